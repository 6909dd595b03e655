package policy

import (
	"errors"
	"fmt"
	"io"
	"os"
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
}

// Defaults are vmmon's rules. Roles follow Keystone's defaults: reader ⊂
// member ⊂ admin (tokens carry implied roles).
var Defaults = []Default{
	{"context_is_admin", "role:admin", "Decides who is an administrator.", nil},
	{"project_reader", "role:reader and project_id:%(project_id)s", "A reader (or more) of the instance's project.", nil},
	{"project_member", "role:member and project_id:%(project_id)s", "A member (or more) of the instance's project.", nil},
	{"vmmon:instance:list", "role:reader", "List the instances of one's own project.", []string{"GET /v1/instances"}},
	{"vmmon:instance:list:all_projects", "rule:context_is_admin",
		"List instances of every project (all_projects=true) or of another (project_id=).", []string{"GET /v1/instances"}},
	{"vmmon:instance:get", "rule:context_is_admin or rule:project_reader",
		"Show an instance, its metrics, measures, events and live stream.",
		[]string{"GET /v1/instances/{id}", "GET /v1/instances/{id}/metrics", "GET /v1/instances/{id}/metrics/{name}/measures",
			"GET /v1/instances/{id}/events"}},
	{"vmmon:instance:action", "rule:context_is_admin or rule:project_member",
		"Run an action on an instance through Nova, and see its actions.",
		[]string{"POST /v1/instances/{id}/actions", "GET /v1/instances/{id}/actions"}},
	{"vmmon:host:list", "rule:context_is_admin", "List compute hosts and their agents.", []string{"GET /v1/hosts"}},
	{"vmmon:host:get", "rule:context_is_admin", "Show a compute host and its agent.", []string{"GET /v1/hosts/{host}"}},
}

// Enforcer holds the rules in force.
type Enforcer struct {
	rules map[string]check
}

// New returns an enforcer with the defaults, overridden by the rules in the
// policy file at path (YAML or JSON) when path is not empty and exists.
func New(path string) (*Enforcer, error) {
	e := &Enforcer{rules: map[string]check{}}
	for _, d := range Defaults {
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

// Allowed checks the named rule. An unknown rule denies.
func (e *Enforcer) Allowed(rule string, c *Credentials, t Target) bool {
	r, ok := e.rules[rule]
	return ok && r.eval(e, c, t, 0)
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
		fmt.Fprintf(&b, "#%q: %q\n", d.Name, d.Check)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
