package policy

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Default is a rule declared in code, documented in the policy sample.
type Default struct {
	Name        string
	Check       string
	Description string
	Operations  []string // e.g. "GET /v1/instances"
	// Scopes are the token scopes the rule accepts (project, system,
	// domain), as oslo.policy's scope_types; none means any. A token of
	// another scope is refused before the check is evaluated.
	Scopes []string
}

var (
	projectOrSystem = []string{"project", "system"}
	projectOnly     = []string{"project"}
)

// Defaults are vmmon's rules. Roles follow Keystone's defaults: reader ⊂
// member ⊂ admin (tokens carry implied roles). A system-scoped reader or
// administrator (system_scope:all) sees every project, as does the admin
// role on a project-scoped token (the cloud administrator of older clouds).
var Defaults = []Default{
	{Name: "context_is_admin", Check: "role:admin", Description: "Decides who is an administrator."},
	{Name: "system_reader", Check: "role:reader and system_scope:all",
		Description: "A reader (or more) of the whole deployment (a system-scoped token)."},
	{Name: "cloud_reader", Check: "rule:context_is_admin or rule:system_reader",
		Description: "Who may read every project's instances and the hosts."},
	{Name: "project_reader", Check: "role:reader and project_id:%(project_id)s", Description: "A reader (or more) of the instance's project."},
	{Name: "project_member", Check: "role:member and project_id:%(project_id)s", Description: "A member (or more) of the instance's project."},
	{Name: "vmmon:instance:list", Check: "role:reader", Description: "List the instances of one's own project.",
		Operations: []string{"GET /v1/instances"}, Scopes: projectOrSystem},
	{Name: "vmmon:instance:list:all_projects", Check: "rule:cloud_reader",
		Description: "List instances of every project (all_projects=true, or any listing with a system-scoped token) or of another (project_id=).",
		Operations:  []string{"GET /v1/instances"}, Scopes: projectOrSystem},
	{Name: "vmmon:instance:get", Check: "rule:cloud_reader or rule:project_reader",
		Description: "Show an instance, its metrics, measures, events and live stream.",
		Operations: []string{"GET /v1/instances/{id}", "GET /v1/instances/{id}/metrics", "GET /v1/instances/{id}/metrics/{name}/measures",
			"GET /v1/instances/{id}/events", "GET /v1/instances/{id}/stream"}, Scopes: projectOrSystem},
	{Name: "vmmon:aggregate:get", Check: "rule:cloud_reader or rule:project_reader",
		Description: "Fold a metric over the instances of a project, per instance, host or project (fleet views, top-N). " +
			"Every project's, or another's, also needs vmmon:instance:list:all_projects; grouping or filtering by host, vmmon:instance:host.",
		Operations: []string{"GET /v1/aggregates", "GET /v1/aggregates/measures"}, Scopes: projectOrSystem},
	{Name: "vmmon:instance:host", Check: "rule:cloud_reader",
		Description: "See the compute host (host, node, the agent's host) of an instance; others see only host_id, a per-project hash.",
		Operations:  []string{"GET /v1/instances", "GET /v1/instances/{id}", "GET /v1/instances/{id}/events", "GET /v1/instances/{id}/stream"},
		Scopes:      projectOrSystem},
	{Name: "vmmon:instance:action:list", Check: "rule:cloud_reader or rule:project_reader",
		Description: "See an instance's actions.",
		Operations:  []string{"GET /v1/instances/{id}/actions", "GET /v1/instances/{id}/actions/{action_id}"}, Scopes: projectOrSystem},
	{Name: "vmmon:instance:action", Check: "rule:context_is_admin or rule:project_member",
		Description: "Run an action on an instance through Nova (which checks its own policy with the caller's token).",
		Operations:  []string{"POST /v1/instances/{id}/actions"}, Scopes: projectOnly},
	{Name: "vmmon:alarm:list", Check: "role:reader", Description: "List the alarms of one's own project.",
		Operations: []string{"GET /v1/alarms"}, Scopes: projectOrSystem},
	{Name: "vmmon:alarm:list:all_projects", Check: "rule:cloud_reader",
		Description: "List the alarms of every project (all_projects=true, or any listing with a system-scoped token) or of another (project_id=).",
		Operations:  []string{"GET /v1/alarms"}, Scopes: projectOrSystem},
	{Name: "vmmon:alarm:get", Check: "rule:cloud_reader or rule:project_reader",
		Description: "Show an alarm, its state and its history, and the alarms of an instance.",
		Operations:  []string{"GET /v1/alarms/{id}", "GET /v1/alarms/{id}/history", "GET /v1/instances/{id}"}, Scopes: projectOrSystem},
	{Name: "vmmon:alarm:create", Check: "rule:context_is_admin or rule:project_member",
		Description: "Create an alarm on an instance or the project.",
		Operations:  []string{"POST /v1/alarms"}, Scopes: projectOnly},
	{Name: "vmmon:alarm:create:host", Check: "rule:context_is_admin",
		Description: "Create an alarm on a compute host.", Operations: []string{"POST /v1/alarms"}, Scopes: projectOnly},
	{Name: "vmmon:alarm:update", Check: "rule:context_is_admin or rule:project_member",
		Description: "Change an alarm.", Operations: []string{"PATCH /v1/alarms/{id}"}, Scopes: projectOnly},
	{Name: "vmmon:alarm:delete", Check: "rule:context_is_admin or rule:project_member",
		Description: "Delete an alarm.", Operations: []string{"DELETE /v1/alarms/{id}"}, Scopes: projectOnly},
	{Name: "vmmon:host:list", Check: "rule:cloud_reader", Description: "List compute hosts and their agents.",
		Operations: []string{"GET /v1/hosts"}, Scopes: projectOrSystem},
	{Name: "vmmon:host:get", Check: "rule:cloud_reader", Description: "Show a compute host and its agent.",
		Operations: []string{"GET /v1/hosts/{host}"}, Scopes: projectOrSystem},
}

// Enforcer holds the rules in force.
type Enforcer struct {
	rules  map[string]check
	scopes map[string][]string
}

// New returns an enforcer with the defaults, overridden by the rules in the
// policy file at path (YAML or JSON) when path is not empty and exists.
func New(path string) (*Enforcer, error) {
	e := &Enforcer{rules: map[string]check{}, scopes: map[string][]string{}}
	for _, d := range Defaults {
		if len(d.Scopes) > 0 {
			e.scopes[d.Name] = d.Scopes
		}
		c, err := Parse(d.Check)
		if err != nil {
			return nil, fmt.Errorf("default rule %q: %w", d.Name, err)
		}
		e.rules[d.Name] = c
	}
	if path == "" {
		return e, nil
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return e, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading policy file: %w", err)
	}
	var overrides map[string]string
	if err := yaml.Unmarshal(raw, &overrides); err != nil {
		return nil, fmt.Errorf("policy file %s: expected a map of rule names to rules: %w", path, err)
	}
	for name, rule := range overrides {
		c, err := Parse(rule)
		if err != nil {
			return nil, fmt.Errorf("policy file %s: rule %q: %w", path, name, err)
		}
		e.rules[name] = c
	}
	return e, nil
}

// SetScopes replaces the token scopes a rule accepts (as for a process
// whose callers all have one scope, such as the all-in-one's).
func (e *Enforcer) SetScopes(rule string, scopes ...string) { e.scopes[rule] = scopes }

// Allowed checks the named rule, its token scope first. An unknown rule denies.
func (e *Enforcer) Allowed(rule string, c *Credentials, t Target) bool {
	return e.Authorize(rule, c, t) == nil
}

// ScopeError says that a rule does not accept the token's scope.
type ScopeError struct {
	Rule   string
	Scope  string   // the token's
	Scopes []string // the rule's
}

func (e *ScopeError) Error() string {
	return fmt.Sprintf("%s needs a %s-scoped token; this token is %s", e.Rule, strings.Join(e.Scopes, "- or "),
		map[bool]string{true: "unscoped", false: e.Scope + "-scoped"}[e.Scope == "unscoped" || e.Scope == ""])
}

// ErrDenied is a rule that did not pass.
var ErrDenied = errors.New("denied by policy")

// CheckScope returns a *ScopeError when rule does not take the token's scope.
func (e *Enforcer) CheckScope(rule string, c *Credentials) error {
	if scopes, ok := e.scopes[rule]; ok && !slices.Contains(scopes, c.Scope) {
		return &ScopeError{Rule: rule, Scope: c.Scope, Scopes: scopes}
	}
	return nil
}

// Authorize checks the named rule: a *ScopeError when the token's scope
// is not one the rule accepts, ErrDenied when the check fails.
func (e *Enforcer) Authorize(rule string, c *Credentials, t Target) error {
	if err := e.CheckScope(rule, c); err != nil {
		return err
	}
	r, ok := e.rules[rule]
	if !ok || !r.eval(e, c, t, 0) {
		return fmt.Errorf("%w: %s", ErrDenied, rule)
	}
	return nil
}

// WriteSample writes the documented defaults as a commented policy.yaml.
func WriteSample(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# vmmon's access rules, in oslo.policy's language. Uncomment a rule to\n# change it; rules not named here keep their defaults.\n")
	ds := append([]Default(nil), Defaults...)
	sort.SliceStable(ds, func(i, j int) bool { return !strings.Contains(ds[i].Name, ":") && strings.Contains(ds[j].Name, ":") })
	for _, d := range ds {
		b.WriteString("\n# " + d.Description + "\n")
		for _, op := range d.Operations {
			b.WriteString("# " + op + "\n")
		}
		if len(d.Scopes) > 0 {
			b.WriteString("# Token scopes: " + strings.Join(d.Scopes, ", ") + "\n")
		}
		fmt.Fprintf(&b, "#%q: %q\n", d.Name, d.Check)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
