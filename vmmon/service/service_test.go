package service

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"opendev.org/openstack/vmmon/vmmon/conf"
)

func writeConf(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vmmon.conf")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBoot(t *testing.T) {
	good := writeConf(t, "[DEFAULT]\ndebug = true\n")
	var once bool
	var got *Process
	var stderr bytes.Buffer
	code := Boot(context.Background(), "vmmon-test", []string{"--once", "--config-file", good}, &stderr,
		func(_ context.Context, p *Process) int { got = p; return 7 },
		Flags(func(fs *flag.FlagSet) { fs.BoolVar(&once, "once", false, "") }))
	if code != 7 || got == nil || !once {
		t.Fatalf("Boot = %d, process %v, once %v; want run's 7", code, got, once)
	}
	if got.Name != "vmmon-test" || !conf.Common.Debug.Get(got.Config) || got.Log == nil {
		t.Errorf("process %+v", got)
	}
	if got.Fail(errors.New("boom")) != 1 || !strings.HasSuffix(stderr.String(), "vmmon-test: boom\n") {
		t.Errorf("Fail wrote %q", stderr.String())
	}
}

func TestBootFailures(t *testing.T) {
	run := func(context.Context, *Process) int { t.Error("run called"); return 0 }
	bad := writeConf(t, "[api]\nbind_port = many\n")
	cases := []struct {
		name string
		args []string
		opts []Option
		code int
		want string
	}{
		{"unknown flag", []string{"--frobnicate"}, nil, 2, "flag provided but not defined: -frobnicate"},
		{"help", []string{"-h"}, nil, 2, "-config-file"},
		{"missing file", []string{"--config-file", "/nonexistent.conf"}, nil, 1, "vmmon-test: /nonexistent.conf: cannot read config file"},
		{"bad value", []string{"--config-file", bad}, nil, 1, "vmmon-test: " + bad + ":2: [api] bind_port"},
		{"log file", []string{"--config-file", writeConf(t, "[DEFAULT]\nlog_file = /nonexistent/dir/log\n")}, nil, 1,
			"vmmon-test: [DEFAULT] log_file:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := Boot(context.Background(), "vmmon-test", c.args, &stderr, run, c.opts...); code != c.code ||
				!strings.Contains(stderr.String(), c.want) {
				t.Errorf("Boot = %d, stderr %q; want %d and %q", code, stderr.String(), c.code, c.want)
			}
		})
	}
}

func TestBootDefaultConfigFile(t *testing.T) {
	def := writeConf(t, "[DEFAULT]\ndebug = true\n")
	var debug bool
	code := Boot(context.Background(), "vmmon-test", nil, &bytes.Buffer{},
		func(_ context.Context, p *Process) int { debug = conf.Common.Debug.Get(p.Config); return 0 }, ConfigFile(def))
	if code != 0 || !debug {
		t.Errorf("Boot = %d, debug %v; want the default file read", code, debug)
	}
}

type versions struct {
	have, want int
	err        error
}

func (v versions) SchemaVersion(context.Context) (int, int, error) { return v.have, v.want, v.err }

func TestCheckSchema(t *testing.T) {
	ctx := context.Background()
	if err := CheckSchema(ctx, versions{2, 2, nil}); err != nil {
		t.Errorf("same version: %v", err)
	}
	if err := CheckSchema(ctx, versions{1, 2, nil}); err == nil || err.Error() != "storage schema is at version 1, this vmmon needs 2: run vmmon-manage db sync" {
		t.Errorf("older schema: %v", err)
	}
	boom := errors.New("boom")
	if err := CheckSchema(ctx, versions{0, 2, boom}); !errors.Is(err, boom) {
		t.Errorf("failed read: %v", err)
	}
}
