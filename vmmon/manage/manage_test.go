package manage

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		if code, out, errs := run(t, "db", "sync", "--config-file", cfg); code != 0 || out != "schema at version 1\n" {
			t.Fatalf("db sync #%d: %d %q %q", i+1, code, out, errs)
		}
	}
	if code, out, _ := run(t, "db", "version", "--config-file", cfg); code != 0 || out != "stored 1, needed 1\n" {
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
