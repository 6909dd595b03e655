package policy

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func creds(project string, roles ...string) *Credentials {
	return &Credentials{Roles: roles, Attrs: map[string]string{"project_id": project, "user_id": "u-" + project}, Scope: "project"}
}

func scoped(scope string, roles ...string) *Credentials {
	c := &Credentials{Roles: roles, Attrs: map[string]string{"user_id": "u"}, Scope: scope}
	switch scope {
	case "system":
		c.Attrs["system_scope"] = "all"
	case "domain":
		c.Attrs["domain_id"] = "default"
	}
	return c
}

func TestRuleLanguage(t *testing.T) {
	e, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	extra := map[string]string{
		"both":       "role:a and role:b",
		"either":     "role:a or role:b",
		"negated":    "not role:a",
		"nested":     "(role:a or role:b) and not (role:c)",
		"precedence": "role:a or role:b and role:c",
		"always":     "@",
		"never":      "!",
		"empty":      "",
		"owner":      "user_id:%(user_id)s",
		"literal":    "'shared':%(visibility)s",
		"chain":      "rule:both or rule:owner",
		"quoted":     `role:"a"`,
		"Cased":      "role:A",
	}
	for name, rule := range extra {
		c, err := Parse(rule)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		e.rules[name] = c
	}
	cases := []struct {
		rule   string
		creds  *Credentials
		target Target
		want   bool
	}{
		{"both", creds("p", "a", "b"), nil, true},
		{"both", creds("p", "a"), nil, false},
		{"either", creds("p", "b"), nil, true},
		{"negated", creds("p", "a"), nil, false},
		{"negated", creds("p"), nil, true},
		{"nested", creds("p", "b"), nil, true},
		{"nested", creds("p", "b", "c"), nil, false},
		{"precedence", creds("p", "a"), nil, true},
		{"precedence", creds("p", "b"), nil, false},
		{"precedence", creds("p", "b", "c"), nil, true},
		{"always", creds("p"), nil, true},
		{"never", creds("p", "admin"), nil, false},
		{"empty", creds("p"), nil, true},
		{"owner", creds("p"), Target{"user_id": "u-p"}, true},
		{"owner", creds("p"), Target{"user_id": "u-q"}, false},
		{"owner", creds("p"), Target{}, false},
		{"literal", creds("p"), Target{"visibility": "shared"}, true},
		{"literal", creds("p"), Target{"visibility": "private"}, false},
		{"chain", creds("q"), Target{"user_id": "u-q"}, true},
		{"quoted", creds("p", "a"), nil, false},
		{"Cased", creds("p", "a"), nil, true},
		{"no-such-rule", creds("p", "admin"), nil, false},
		// The defaults.
		{"vmmon:instance:get", creds("p", "reader"), Target{"project_id": "p"}, true},
		{"vmmon:instance:get", creds("p", "reader"), Target{"project_id": "q"}, false},
		{"vmmon:instance:get", creds("x", "admin"), Target{"project_id": "q"}, true},
		{"vmmon:instance:action", creds("p", "reader"), Target{"project_id": "p"}, false},
		{"vmmon:instance:action", creds("p", "member", "reader"), Target{"project_id": "p"}, true},
		{"vmmon:instance:action", creds("p", "member", "reader"), Target{"project_id": "q"}, false},
		{"vmmon:host:list", creds("p", "member", "reader"), nil, false},
		{"vmmon:host:list", creds("p", "admin"), nil, true},
		{"vmmon:instance:action:list", creds("p", "reader"), Target{"project_id": "p"}, true},
		{"vmmon:instance:action:list", creds("p", "reader"), Target{"project_id": "q"}, false},
		{"vmmon:instance:host", creds("p", "member"), Target{"project_id": "p"}, false},
		{"vmmon:instance:host", creds("p", "admin"), Target{"project_id": "p"}, true},
		// Token scopes: system readers and administrators read every
		// project; domain-scoped and unscoped tokens nothing.
		{"vmmon:instance:list:all_projects", scoped("system", "reader"), Target{"project_id": ""}, true},
		{"vmmon:instance:list:all_projects", scoped("system", "member", "reader"), Target{"project_id": ""}, true},
		{"vmmon:instance:list:all_projects", scoped("system", "member"), Target{"project_id": ""}, false},
		{"vmmon:instance:get", scoped("system", "reader"), Target{"project_id": "p"}, true},
		{"vmmon:host:list", scoped("system", "reader"), nil, true},
		{"vmmon:instance:action", scoped("system", "admin"), Target{"project_id": "p"}, false},
		{"vmmon:instance:list", scoped("domain", "admin"), Target{"project_id": ""}, false},
		{"vmmon:instance:get", scoped("domain", "admin"), Target{"project_id": "p"}, false},
		{"vmmon:host:list", scoped("domain", "admin"), nil, false},
		{"vmmon:instance:list", scoped("unscoped"), Target{"project_id": ""}, false},
		{"vmmon:instance:list", scoped("system"), Target{"project_id": ""}, false},
		// Alarms: readers read, members write, host alarms are the administrator's.
		{"vmmon:alarm:get", creds("p", "reader"), Target{"project_id": "p"}, true},
		{"vmmon:alarm:get", creds("p", "reader"), Target{"project_id": "q"}, false},
		{"vmmon:alarm:get", scoped("system", "reader"), Target{"project_id": "q"}, true},
		{"vmmon:alarm:create", creds("p", "reader"), Target{"project_id": "p"}, false},
		{"vmmon:alarm:create", creds("p", "member", "reader"), Target{"project_id": "p"}, true},
		{"vmmon:alarm:create", creds("p", "member", "reader"), Target{"project_id": "q"}, false},
		{"vmmon:alarm:create", scoped("system", "admin"), Target{"project_id": "p"}, false},
		{"vmmon:alarm:create:host", creds("p", "member", "reader"), Target{"project_id": "p"}, false},
		{"vmmon:alarm:create:host", creds("p", "admin"), Target{"project_id": "p"}, true},
		{"vmmon:alarm:update", creds("p", "member"), Target{"project_id": "p"}, true},
		{"vmmon:alarm:update", creds("p", "reader"), Target{"project_id": "p"}, false},
		{"vmmon:alarm:delete", creds("q", "member"), Target{"project_id": "p"}, false},
		{"vmmon:alarm:delete", creds("p", "member"), Target{"project_id": "p"}, true},
		{"vmmon:alarm:list:all_projects", creds("p", "member", "reader"), Target{"project_id": ""}, false},
		{"vmmon:alarm:list", scoped("domain", "admin"), Target{"project_id": ""}, false},
	}
	for _, c := range cases {
		if got := e.Allowed(c.rule, c.creds, c.target); got != c.want {
			t.Errorf("%s with roles %v, target %v = %v; want %v", c.rule, c.creds.Roles, c.target, got, c.want)
		}
	}
}

// A token of a scope a rule does not take is refused with a message that
// names the scope needed.
func TestScopeError(t *testing.T) {
	e, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	err = e.Authorize("vmmon:instance:list", scoped("domain", "admin"), nil)
	var se *ScopeError
	if !errors.As(err, &se) || se.Error() != "vmmon:instance:list needs a project- or system-scoped token; this token is domain-scoped" {
		t.Errorf("domain-scoped: %v", err)
	}
	err = e.Authorize("vmmon:instance:action", scoped("unscoped"), nil)
	if !errors.As(err, &se) || se.Error() != "vmmon:instance:action needs a project-scoped token; this token is unscoped" {
		t.Errorf("unscoped: %v", err)
	}
	if err := e.Authorize("vmmon:instance:list", creds("p"), nil); !errors.Is(err, ErrDenied) {
		t.Errorf("no role: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, rule := range []string{"role:a and", "(role:a", "role:a)", "justaword", "role:a or or role:b", `role:'a`} {
		if _, err := Parse(rule); err == nil {
			t.Errorf("%q parsed", rule)
		}
	}
}

func TestPolicyFileOverrides(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(p, []byte(`"vmmon:host:list": "role:reader"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Allowed("vmmon:host:list", creds("p", "reader"), nil) {
		t.Error("override not applied")
	}
	if e.Allowed("vmmon:host:get", creds("p", "reader"), nil) {
		t.Error("a rule not overridden changed")
	}
	if err := os.WriteFile(p, []byte(`"vmmon:host:list": "role:reader and"`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(p); err == nil || !strings.Contains(err.Error(), `rule "vmmon:host:list"`) {
		t.Errorf("bad override: %v", err)
	}
	if _, err := New(filepath.Join(dir, "absent.yaml")); err != nil {
		t.Errorf("absent file: %v", err)
	}
}

// The sample in etc/vmmon/ must be what `make genconfig` writes now, and
// loading it (all commented) changes nothing.
func TestSampleUpToDate(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSample(&b); err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile("../../etc/vmmon/policy.yaml.sample")
	if err != nil || !bytes.Equal(have, b.Bytes()) {
		t.Errorf("etc/vmmon/policy.yaml.sample is stale (%v): run make genconfig", err)
	}
	// Uncommented, every default parses and loads.
	var out []string
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, `#"`) {
			line = line[1:]
		}
		out = append(out, line)
	}
	p := filepath.Join(t.TempDir(), "p.yaml")
	_ = os.WriteFile(p, []byte(strings.Join(out, "\n")), 0o600)
	if _, err := New(p); err != nil {
		t.Errorf("the sample uncommented: %v", err)
	}
}
