//go:build functional

package functional

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/applicationcredentials"

	"opendev.org/openstack/vmmon/tests/bedenv"
)

// scopedToken authenticates user with the given scope (nil: unscoped).
func scopedToken(t *testing.T, env bedenv.Env, user string, scope *gophercloud.AuthScope) string {
	t.Helper()
	p, err := openstack.AuthenticatedClient(context.Background(), gophercloud.AuthOptions{
		IdentityEndpoint: env.Get(t, "VMMON_KEYSTONE_URL"), Username: user, Password: env.Get(t, "VMMON_TEST_PASSWORD"),
		DomainName: "Default", Scope: scope})
	if err != nil {
		t.Fatalf("token for %s (%+v): %v", user, scope, err)
	}
	return p.Token()
}

// appCredToken creates an application credential of demo-member (with the
// given access rules) and returns a token made from it.
func appCredToken(t *testing.T, env bedenv.Env, rules []applicationcredentials.AccessRule) string {
	t.Helper()
	ctx := context.Background()
	owner, err := openstack.AuthenticatedClient(ctx, gophercloud.AuthOptions{
		IdentityEndpoint: env.Get(t, "VMMON_KEYSTONE_URL"), Username: "demo-member", Password: env.Get(t, "VMMON_TEST_PASSWORD"),
		DomainName: "Default", Scope: &gophercloud.AuthScope{ProjectName: "demo", DomainName: "Default"}})
	if err != nil {
		t.Fatal(err)
	}
	ident, err := openstack.NewIdentityV3(owner, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	ident.Endpoint = gophercloud.NormalizeURL(env.Get(t, "VMMON_KEYSTONE_URL"))
	userID := env.Get(t, "VMMON_USER_DEMO_MEMBER_ID")
	ac, err := applicationcredentials.Create(ctx, ident, userID, applicationcredentials.CreateOpts{
		Name: fmt.Sprintf("vmmon-test-%s-%d", t.Name(), len(rules)), AccessRules: rules}).Extract()
	if err != nil {
		t.Fatalf("creating an application credential: %v", err)
	}
	t.Cleanup(func() { _ = applicationcredentials.Delete(ctx, ident, userID, ac.ID).ExtractErr() })
	p, err := openstack.AuthenticatedClient(ctx, gophercloud.AuthOptions{
		IdentityEndpoint: env.Get(t, "VMMON_KEYSTONE_URL"), ApplicationCredentialID: ac.ID, ApplicationCredentialSecret: ac.Secret})
	if err != nil {
		t.Fatalf("token from the application credential: %v", err)
	}
	return p.Token()
}

// Every kind of Keystone token against every resource: project-scoped
// callers see their project, system-scoped readers and administrators every
// project, domain-scoped and unscoped tokens nothing (403 naming the scope
// needed); application credentials act as their project's user, and those
// with access rules only on the requests the rules name (401 otherwise, as
// keystonemiddleware answers).
func TestAPITokenKinds(t *testing.T) {
	b := startAPI(t, 300*time.Second)
	env := b.env
	tok := map[string]string{
		"project":          scopedToken(t, env, "demo-reader", &gophercloud.AuthScope{ProjectName: "demo", DomainName: "Default"}),
		"domain":           scopedToken(t, env, "domain-reader", &gophercloud.AuthScope{DomainName: "Default"}),
		"unscoped":         scopedToken(t, env, "domain-reader", nil),
		"system-reader":    scopedToken(t, env, "system-reader", &gophercloud.AuthScope{System: true}),
		"system-admin":     scopedToken(t, env, "system-admin", &gophercloud.AuthScope{System: true}),
		"app-cred":         appCredToken(t, env, nil),
		"app-cred-limited": appCredToken(t, env, []applicationcredentials.AccessRule{{Service: "vm-monitor", Method: "GET", Path: "/v1/instances/*"}}),
	}
	type cell struct {
		path string
		want int
	}
	demo := "/v1/instances/" + demoInst
	alt := "/v1/instances/" + altInst
	cases := map[string][]cell{
		"project": {{"/v1/instances", 200}, {demo, 200}, {demo + "/actions", 200}, {alt, 404}, {"/v1/instances?all_projects=true", 403},
			{"/v1/hosts", 403}},
		"domain": {{"/v1/instances", 403}, {"/v1/instances?all_projects=true", 403}, {demo, 403}, {demo + "/metrics", 403},
			{demo + "/events", 403}, {demo + "/actions", 403}, {"/v1/hosts", 403}},
		"unscoped": {{"/v1/instances", 403}, {demo, 403}, {demo + "/actions", 403}, {"/v1/hosts", 403}},
		"system-reader": {{"/v1/instances", 200}, {"/v1/instances?all_projects=true", 200}, {demo, 200}, {alt, 200},
			{alt + "/metrics/cpu_util/measures", 200}, {demo + "/actions", 200}, {"/v1/hosts", 200}, {"/v1/hosts/cmp1", 200}},
		"system-admin": {{"/v1/instances", 200}, {demo, 200}, {alt, 200}, {"/v1/hosts", 200}},
		"app-cred":     {{"/v1/instances", 200}, {demo, 200}, {demo + "/events", 200}, {alt, 404}, {"/v1/hosts", 403}},
		"app-cred-limited": {{demo, 200}, {alt, 404}, {"/v1/instances", 401}, {demo + "/events", 401},
			{demo + "/metrics/cpu_util/measures", 401}, {"/v1/hosts", 401}},
	}
	cells := 0
	for kind, cs := range cases {
		for _, c := range cs {
			code, _, body := b.get(t, c.path, tok[kind])
			cells++
			if code != c.want {
				t.Errorf("%s token: GET %s = %d; want %d: %s", kind, c.path, code, c.want, body)
				continue
			}
			if code == 403 && (kind == "domain" || kind == "unscoped") && !strings.Contains(body, "scoped token") {
				t.Errorf("%s token: GET %s: the 403 does not name the scope needed: %s", kind, c.path, body)
			}
		}
	}
	// A system-scoped reader's plain listing covers every project.
	_, _, body := b.get(t, "/v1/instances", tok["system-reader"])
	var list struct{ Instances []struct{ ID string } }
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list.Instances) != 2 {
		t.Errorf("system reader's listing: %s", body)
	}
	// A system-scoped token cannot act: actions go to Nova as a project.
	code, body := b.post(t, demo+"/actions", tok["system-admin"], `{"action": "pause"}`, "")
	if code != 403 || !strings.Contains(body, "project-scoped token") {
		t.Errorf("system-scoped action: %d %s", code, body)
	}
	t.Logf("%d cells of token kind × resource checked", cells)
}
