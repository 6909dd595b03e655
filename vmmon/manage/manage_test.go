package manage

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"opendev.org/openstack/vmmon/vmmon/storage/embedded"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestDBSyncEmbedded(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "vmmon.conf")
	if err := os.WriteFile(cfg, []byte("[storage]\ndriver = embedded\npath = "+filepath.Join(dir, "store")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if code, out, errs := run(t, "db", "sync", "--config-file", cfg); code != 0 || out != fmt.Sprintf("schema at version %d\n", embedded.SchemaVersion) {
			t.Fatalf("db sync #%d: %d %q %q", i+1, code, out, errs)
		}
	}
	if code, out, _ := run(t, "db", "version", "--config-file", cfg); code != 0 ||
		out != fmt.Sprintf("stored %d, needed %d\n", embedded.SchemaVersion, embedded.SchemaVersion) {
		t.Errorf("db version: %d %q", code, out)
	}
}

func TestUsageAndErrors(t *testing.T) {
	if code, _, errs := run(t, "db", "frobnicate"); code != 2 || !strings.Contains(errs, `unknown command "db frobnicate"`) ||
		!strings.Contains(errs, "db sync") {
		t.Errorf("unknown command: %d %q", code, errs)
	}
	code, _, errs := run(t, "config", "check", "--config-file", "/nonexistent.conf")
	if code != 1 || !strings.Contains(errs, "/nonexistent.conf: cannot read config file") {
		t.Errorf("missing file: %d %q", code, errs)
	}
	code, out, _ := run(t, "config", "sample")
	if code != 0 || !strings.Contains(out, "# ---- vmmon-agent.conf.sample ----") || !strings.Contains(out, "#libvirt_uri = qemu:///system") {
		t.Errorf("config sample: %d %.200q", code, out)
	}
}

// Options before the command, in oslo's order (nova-manage --config-file F db
// sync), as well as after it, and on both sides at once (later files win).
func TestOptionsBeforeOrAfterTheCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "vmmon.conf")
	if err := os.WriteFile(cfg, []byte("[storage]\ndriver = embedded\npath = "+filepath.Join(dir, "store")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--config-file", cfg, "db", "sync"},
		{"db", "sync", "--config-file", cfg},
		{"--config-file=" + cfg, "db", "version"},
		{"--config-dir", empty, "db", "version", "--config-file", cfg},
		{"--config-file", cfg, "--", "db", "version"},
	} {
		if code, out, errs := run(t, args...); code != 0 || !strings.Contains(out, fmt.Sprint(embedded.SchemaVersion)) {
			t.Errorf("%q: %d %q %q", args, code, out, errs)
		}
	}
	other := filepath.Join(dir, "other.conf")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// Files keep their order across the command: the later wins.
	if code, out, errs := run(t, "--config-file", other, "config", "check", "--config-file", cfg); code != 0 ||
		out != "configuration OK ("+other+", "+cfg+")\n" {
		t.Errorf("config check: %d %q %q", code, out, errs)
	}
	code, out, _ := run(t, "--config-file", cfg, "policy", "sample", "--output-dir", filepath.Join(dir, "out"))
	if _, err := os.Stat(filepath.Join(dir, "out", "policy.yaml.sample")); code != 0 || out != "" || err != nil {
		t.Errorf("policy sample --output-dir: %d %q %v", code, out, err)
	}
}

// What vmmon-manage does not understand, it names.
func TestWhatIsNotUnderstood(t *testing.T) {
	all := "commands: config check, config sample, db sync, db version, policy sample, service register"
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "vmmon-manage: no command given; " + all + "\n"},
		{[]string{"foo"}, `vmmon-manage: unknown command "foo"; ` + all + "\n"},
		{[]string{"--config-file", "x.conf", "foo", "bar"}, `vmmon-manage: unknown command "foo"; ` + all + "\n"},
		{[]string{"db"}, `vmmon-manage: "db" needs an action; commands: db sync, db version` + "\n"},
		{[]string{"db", "frobnicate"}, `vmmon-manage: unknown command "db frobnicate"; commands: db sync, db version` + "\n"},
		{[]string{"--frobnicate", "db", "sync"}, "vmmon-manage: flag provided but not defined: -frobnicate\n"},
		{[]string{"--config-file"}, "vmmon-manage: flag needs an argument: -config-file\n"},
	} {
		code, out, errs := run(t, c.args...)
		if code != 2 || out != "" || !strings.HasPrefix(errs, c.want) || !strings.Contains(errs, "\nusage: vmmon-manage ") {
			t.Errorf("%q: %d %q; want 2 and %q then the usage", c.args, code, errs, c.want)
		}
	}
	if code, _, errs := run(t, "-h"); code != 2 || !strings.HasPrefix(errs, "usage: vmmon-manage [--config-file F]...") {
		t.Errorf("-h: %d %q", code, errs)
	}
	if code, _, errs := run(t, "db", "sync", "--frobnicate"); code != 2 || !strings.Contains(errs, "flag provided but not defined: -frobnicate") {
		t.Errorf("unknown option after the command: %d %q", code, errs)
	}
}
