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

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/services"

	"opendev.org/openstack/vmmon/tests/bedenv"
	v1 "opendev.org/openstack/vmmon/vmmon/client/v1"
	"opendev.org/openstack/vmmon/vmmon/client/v1/instances"
)

func buildCmd(t testing.TB, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, "./"+pkg)
	cmd.Dir = bedenv.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// startAPIProcess runs the vmmon-api binary with Keystone authentication as
// the vmmon service user on an embedded store (seeded by seed, when not nil,
// before the API opens it) and returns its base URL and log.
func startAPIProcess(t *testing.T, env bedenv.Env, manage string, seed func(store string)) (string, *strings.Builder) {
	t.Helper()
	port := freePort(t)
	store := filepath.Join(t.TempDir(), "store")
	cfg := writeConfig(t, fmt.Sprintf("[api]\nbind_host = 127.0.0.1\nbind_port = %d\n[storage]\ndriver = embedded\npath = %s\n"+
		"[keystone_authtoken]\nauth_url = %s\nusername = vmmon\npassword = %s\nproject_name = service\n",
		port, store, env.Get(t, "VMMON_KEYSTONE_URL"), env.Get(t, "VMMON_TEST_PASSWORD")))
	if out, err := exec.Command(manage, "db", "sync", "--config-file", cfg).CombinedOutput(); err != nil {
		t.Fatalf("db sync: %v %s", err, out)
	}
	if seed != nil {
		seed(store)
	}
	base, _, log := runAPI(t, cfg, port)
	return base, log
}

// vmmon-manage service register puts vmmon in the real Keystone's catalog
// (again without change); a keystoneauth1 session then finds vmmon-api by
// service type and calls it with a member's token, which vmmon-api validates
// with Keystone.
func TestServiceRegisterAndKeystoneauth(t *testing.T) {
	env := bedenv.Load(t)
	manage := buildCmd(t, "vmmon/cmd/vmmon-manage")
	base, apiLog := startAPIProcess(t, env, manage, nil)

	adminEnv := append(os.Environ(), "OS_AUTH_URL="+env.Get(t, "VMMON_KEYSTONE_URL"), "OS_USERNAME=admin",
		"OS_PASSWORD="+env.Get(t, "VMMON_KEYSTONE_ADMIN_PASSWORD"), "OS_PROJECT_NAME=admin",
		"OS_USER_DOMAIN_NAME=Default", "OS_PROJECT_DOMAIN_NAME=Default")
	register := func() string {
		cmd := exec.Command(manage, "service", "register", "--public-url", base, "--region", "RegionOne")
		cmd.Env = adminEnv
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("service register: %v\n%s", err, out)
		}
		return string(out)
	}
	first, second := register(), register()
	if !strings.Contains(second, "created [], updated []") || !strings.Contains(second, "unchanged [service public internal admin]") {
		t.Errorf("second registration changed something: %s (first: %s)", second, first)
	}
	t.Cleanup(func() {
		p, err := openstack.AuthenticatedClient(context.Background(), gophercloud.AuthOptions{
			IdentityEndpoint: env.Get(t, "VMMON_KEYSTONE_URL"), Username: "admin", Password: env.Get(t, "VMMON_KEYSTONE_ADMIN_PASSWORD"),
			DomainName: "Default", Scope: &gophercloud.AuthScope{ProjectName: "admin", DomainName: "Default"}})
		if err != nil {
			return
		}
		ident, _ := openstack.NewIdentityV3(p, gophercloud.EndpointOpts{})
		id := strings.Fields(strings.TrimPrefix(second, "service "))[0]
		_ = services.Delete(context.Background(), ident, id).ExtractErr()
	})
	// The Go client finds vmmon through the member's catalog too.
	member, err := openstack.AuthenticatedClient(context.Background(), gophercloud.AuthOptions{
		IdentityEndpoint: env.Get(t, "VMMON_KEYSTONE_URL"), Username: "demo-member", Password: env.Get(t, "VMMON_TEST_PASSWORD"),
		DomainName: "Default", Scope: &gophercloud.AuthScope{ProjectName: "demo", DomainName: "Default"}})
	if err != nil {
		t.Fatal(err)
	}
	client, err := v1.NewMonitorV1(member, gophercloud.EndpointOpts{Region: "RegionOne"})
	if err != nil {
		t.Fatalf("vm-monitor not in the catalog: %v", err)
	}
	pages, err := instances.List(client, instances.ListOpts{}).AllPages(context.Background())
	if err != nil {
		t.Fatalf("listing through the Go client: %v\n%s", err, apiLog.String())
	}
	if list, err := instances.ExtractInstances(pages); err != nil || len(list) != 0 {
		t.Errorf("instances %v, %v", list, err)
	}
	out, err := exec.Command(python, filepath.Join(bedenv.RepoRoot(), "tests", "interop", "keystoneauth_call.py"),
		env.Get(t, "VMMON_KEYSTONE_URL"), "demo-member", env.Get(t, "VMMON_TEST_PASSWORD"), "demo", "/v1/instances").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "200\n") || !strings.Contains(string(out), `"instances"`) {
		t.Errorf("keystoneauth1 call: %v\n%s\nvmmon-api log:\n%s", err, out, apiLog.String())
	}
}
