package controlplane

import (
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"opendev.org/openstack/vmmon/vmmon/auth"
	"opendev.org/openstack/vmmon/vmmon/conf"
)

func TestApplyGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	cases := []struct {
		name, file, gogc string
		want             int
		set              bool
	}{
		{"default", "", "", 400, true},
		{"from the file", "[api]\ngc_percent = 150\n", "", 150, true},
		{"GOGC wins", "[api]\ngc_percent = 150\n", "off", 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			path := filepath.Join(t.TempDir(), "vmmon.conf")
			if err := os.WriteFile(path, []byte(c.file), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := conf.Load(conf.Sources{Files: []string{path}})
			if err != nil {
				t.Fatal(err)
			}
			got, set := applyGCPercent(cfg, func(k string) string {
				if k == "GOGC" {
					return c.gogc
				}
				return ""
			})
			if got != c.want || set != c.set {
				t.Errorf("applyGCPercent = %d, %v; want %d, %v", got, set, c.want, c.set)
			}
			want := 100 // untouched
			if c.set {
				want = c.want
			}
			if now := debug.SetGCPercent(100); now != want {
				t.Errorf("GC target %d; want %d", now, want)
			}
		})
	}
}

func TestPolicyPath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vmmon.conf")
	if err := os.WriteFile(path, []byte("[oslo_policy]\npolicy_file = policy.yaml\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := conf.Load(conf.Sources{Files: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := PolicyPath(c), filepath.Join(dir, "policy.yaml"); got != want {
		t.Errorf("beside the config file: %q; want %q", got, want)
	}
	if got, want := PolicyPath(conf.Default.Empty()), "/etc/vmmon/policy.yaml"; got != want {
		t.Errorf("no config file: %q; want %q", got, want)
	}
}

func TestValidatorNoAuthOnLoopbackOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vmmon.conf")
	if err := os.WriteFile(path, []byte("[DEFAULT]\nauth_strategy = noauth\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := conf.Load(conf.Sources{Files: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1", "::1", "localhost"} {
		v, err := Validator(context.Background(), c, host)
		if _, ok := v.(auth.NoAuth); err != nil || !ok {
			t.Errorf("%s: %T, %v; want NoAuth", host, v, err)
		}
	}
	if _, err := Validator(context.Background(), c, "0.0.0.0"); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("0.0.0.0: %v; want a refusal", err)
	}
}
