//go:build functional

package functional

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/tests/bedenv"
)

// writeConfig writes a vmmon configuration file of the test's own.
func writeConfig(t testing.TB, body string) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "vmmon.conf")
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// cassandraSection is the configuration of the bed's Cassandra with the
// keyspace ks.
func cassandraSection(t testing.TB, env bedenv.Env, ks string) string {
	host, port, _ := strings.Cut(strings.Split(env.Get(t, "VMMON_CASSANDRA_HOSTS"), ",")[0], ":")
	return fmt.Sprintf("[storage]\ndriver = cassandra\n[cassandra]\nhosts = %s\nport = %s\nkeyspace = %s\nconsistency = ONE\n", host, port, ks)
}

// runAPI starts the vmmon-api binary on cfg, whose [api] bind_port is port,
// and returns its base URL, process and log once /healthcheck answers; it
// stops at the end of the test.
func runAPI(t testing.TB, cfg string, port int) (string, *exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(buildCmd(t, "vmmon/cmd/vmmon-api"), "--config-file", cfg)
	log := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	until(t, 30*time.Second, "vmmon-api answering /healthcheck", func() bool { return answersOK(base + "/healthcheck") })
	return base, cmd, log
}

// answersOK says whether a GET of url answers 200.
func answersOK(url string) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// peakRSSMB returns a process's peak resident set size in MB.
func peakRSSMB(t testing.TB, pid int) float64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb float64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%g kB", &kb); err == nil {
				return kb / 1024
			}
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}
