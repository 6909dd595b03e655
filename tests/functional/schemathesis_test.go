//go:build functional

package functional

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/storage/embedded"
)

// schemathesis (PyPI) runs the OpenAPI document against a live vmmon-api
// that validates a real Keystone token: no 5xx, no response that breaks the
// document.
func TestSchemathesis(t *testing.T) {
	env := bedenv.Load(t)
	st := filepath.Join(bedenv.Dir(), "venv", "bin", "schemathesis")
	if _, err := os.Stat(st); err != nil {
		t.Fatalf("schemathesis not installed (tests/bed/install.sh schemathesis): %v", err)
	}
	manage, apiBin := buildCmd(t, "vmmon/cmd/vmmon-manage"), buildCmd(t, "vmmon/cmd/vmmon-api")
	dir := t.TempDir()
	port := freePort(t)
	cfg := filepath.Join(dir, "vmmon.conf")
	body := fmt.Sprintf("[api]\nbind_host = 127.0.0.1\nbind_port = %d\n[storage]\ndriver = embedded\npath = %s\n"+
		"[keystone_authtoken]\nauth_url = %s\nusername = vmmon\npassword = %s\nproject_name = service\n",
		port, filepath.Join(dir, "store"), env.Get(t, "VMMON_KEYSTONE_URL"), env.Get(t, "VMMON_TEST_PASSWORD"))
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(manage, "db", "sync", "--config-file", cfg).CombinedOutput(); err != nil {
		t.Fatalf("db sync: %v %s", err, out)
	}
	// Some data for the generated requests to find.
	s, err := embedded.Open(filepath.Join(dir, "store"), storage.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now().UTC()
	_ = s.PutInstance(ctx, storage.Instance{ID: demoInst, ProjectID: "admin-project", Name: "x", Host: "cmp1", State: "active", UpdatedAt: now})
	_ = s.WriteSamples(ctx, []storage.Sample{{InstanceID: demoInst, Metric: "cpu_util", Time: now.Add(-time.Minute), Value: 1, Unit: "%", Kind: "rate"}})
	_ = s.PutHeartbeat(ctx, storage.Host{Name: "cmp1", LastHeartbeat: now, Interval: 10, Heartbeat: `{"host":"cmp1"}`})
	s.Close()
	api := exec.Command(apiBin, "--config-file", cfg)
	var apiLog strings.Builder
	api.Stderr = &apiLog
	if err := api.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.Process.Kill(); _ = api.Wait() })
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	until(t, 20*time.Second, "vmmon-api listening", func() bool { _, err := getJSON(base+"/", new(map[string]any)); return err == nil })
	token := tokenFor(t, env, "admin", "admin", env.Get(t, "VMMON_KEYSTONE_ADMIN_PASSWORD"))
	cmd := exec.Command(st, "run", filepath.Join(bedenv.RepoRoot(), "vmmon", "api", "openapi.yaml"), "--url", base,
		"-H", "X-Auth-Token: "+token, "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance",
		// The live stream never ends by design; its unit and all-in-one tests cover it.
		"--exclude-path", "/v1/instances/{id}/stream",
		"--max-examples", "40", "--generation-deterministic", "--request-timeout", "10")
	cmd.Env = append(os.Environ(), "SCHEMATHESIS_HOOKS=", "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("schemathesis: %v\n%s", err, out)
	} else {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		t.Logf("schemathesis:\n%s", strings.Join(lines[max(0, len(lines)-25):], "\n"))
	}
	if strings.Contains(apiLog.String(), "status=500") {
		t.Errorf("vmmon-api answered 500:\n%s", apiLog.String())
	}
}
