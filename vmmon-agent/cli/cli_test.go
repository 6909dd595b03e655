package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"opendev.org/openstack/vmmon/vmmon/agentmsg"
)

func TestOnce(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "vmmon-agent.conf")
	if err := os.WriteFile(cfg, []byte("[agent]\nlibvirt_uri = test:///default\nhost = cli-host\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if code := Main(context.Background(), []string{"--config-file", cfg, "--once"}, &out, &errs); code != 0 {
		t.Fatalf("--once: exit %d, %s", code, errs.String())
	}
	var b agentmsg.Batch
	if err := json.Unmarshal(out.Bytes(), &b); err != nil || b.Host != "cli-host" || b.Seq != 1 {
		t.Errorf("--once printed %.300q (%v)", out.String(), err)
	}
}

func TestCommandLineErrors(t *testing.T) {
	var out, errs bytes.Buffer
	if code := Main(context.Background(), []string{"--twice"}, &out, &errs); code != 2 ||
		!strings.Contains(errs.String(), "flag provided but not defined: -twice") {
		t.Errorf("unknown flag: exit %d, %q", code, errs.String())
	}
	errs.Reset()
	if code := Main(context.Background(), []string{"--once", "--config-file", "/nonexistent.conf"}, &out, &errs); code != 1 ||
		!strings.HasPrefix(errs.String(), "vmmon-agent: /nonexistent.conf: cannot read config file") {
		t.Errorf("missing file: exit %d, %q", code, errs.String())
	}
	if out.Len() != 0 {
		t.Errorf("standard output %q; want nothing", out.String())
	}
}
