//go:build functional

package functional

import (
	"context"
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
	manage := buildCmd(t, "vmmon/cmd/vmmon-manage")
	// Some data for the generated requests to find.
	base, apiLog := startAPIProcess(t, env, manage, func(store string) {
		s, err := embedded.Open(store, storage.Retention{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ctx := context.Background()
		now := time.Now().UTC()
		_ = s.PutInstance(ctx, storage.Instance{ID: demoInst, ProjectID: "admin-project", Name: "x", Host: "cmp1", State: "active", UpdatedAt: now})
		_ = s.WriteSamples(ctx, []storage.Sample{{InstanceID: demoInst, Metric: "cpu_util", Time: now.Add(-time.Minute), Value: 1, Unit: "%", Kind: "rate"}})
		_ = s.PutHeartbeat(ctx, storage.Host{Name: "cmp1", LastHeartbeat: now, Interval: 10, Heartbeat: `{"host":"cmp1"}`})
	})
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
