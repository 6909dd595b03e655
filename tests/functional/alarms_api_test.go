//go:build functional

package functional

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"opendev.org/openstack/vmmon/vmmon/client/v1/alarms"
)

// do sends method path with a JSON body (or none) and returns the status and body.
func (b *apiBed) do(t *testing.T, method, path, token, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, b.url+path, rd)
	req.Header.Set("X-Auth-Token", token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// client is the Go client of the bed's vmmon-api with token.
func (b *apiBed) client(token string) *gophercloud.ServiceClient {
	p := &gophercloud.ProviderClient{}
	p.SetToken(token)
	return &gophercloud.ServiceClient{ProviderClient: p, Endpoint: b.url + "/v1/", ResourceBase: b.url + "/v1/"}
}

// Alarms with real Keystone tokens of every kind: members of the owning
// project create, change and delete; its readers read; another project's
// member can neither see nor touch the alarm (404); system-scoped readers
// read every project's but cannot write (alarms act as a project);
// domain-scoped and unscoped tokens get a 403 that names the scope needed;
// host alarms are the administrator's. The Go client does the member's part.
func TestAlarmAPIWithKeystone(t *testing.T) {
	b := startAPI(t, 300*time.Second)
	env := b.env
	pw := env.Get(t, "VMMON_TEST_PASSWORD")
	tok := map[string]string{
		"demo-member":   tokenFor(t, env, "demo-member", "demo", pw),
		"demo-reader":   tokenFor(t, env, "demo-reader", "demo", pw),
		"alt-member":    tokenFor(t, env, "alt-member", "alt-demo", pw),
		"admin":         tokenFor(t, env, "admin", "admin", env.Get(t, "VMMON_KEYSTONE_ADMIN_PASSWORD")),
		"domain":        scopedToken(t, env, "domain-reader", &gophercloud.AuthScope{DomainName: "Default"}),
		"unscoped":      scopedToken(t, env, "domain-reader", nil),
		"system-reader": scopedToken(t, env, "system-reader", &gophercloud.AuthScope{System: true}),
		"system-admin":  scopedToken(t, env, "system-admin", &gophercloud.AuthScope{System: true}),
	}
	ctx := context.Background()
	member := b.client(tok["demo-member"])
	a, err := alarms.Create(ctx, member, alarms.CreateOpts{Name: "busy", Metric: "cpu_util", InstanceID: demoInst, Comparison: "gt",
		Threshold: 80, Actions: []alarms.Action{{Type: "webhook", URL: "https://hooks.example/x", Secret: "hush"}}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if a.ProjectID != env.Get(t, "VMMON_PROJECT_DEMO_ID") || a.State != "insufficient_data" || !a.Actions[0].SecretSet {
		t.Errorf("created: %+v", a)
	}
	threshold := 85.0
	if u, err := alarms.Update(ctx, member, a.ID, alarms.UpdateOpts{Threshold: &threshold}).Extract(); err != nil || u.Threshold != 85 {
		t.Errorf("update: %+v, %v", u, err)
	}
	one := "/v1/alarms/" + a.ID
	body := `{"threshold": 70}`
	create := `{"name": "x", "metric": "cpu_util", "instance_id": "` + demoInst + `", "comparison": "gt", "threshold": 1}`
	type cell struct {
		method, path, body string
		want               int
	}
	cases := map[string][]cell{
		"demo-reader": {{"GET", one, "", 200}, {"GET", one + "/history", "", 200}, {"GET", "/v1/alarms", "", 200},
			{"PATCH", one, body, 403}, {"DELETE", one, "", 403}, {"POST", "/v1/alarms", create, 403}},
		"alt-member": {{"GET", one, "", 404}, {"GET", one + "/history", "", 404}, {"PATCH", one, body, 404}, {"DELETE", one, "", 404},
			{"POST", "/v1/alarms", create, 404}, {"GET", "/v1/alarms?all_projects=true", "", 403}},
		"domain":   {{"GET", one, "", 403}, {"GET", "/v1/alarms", "", 403}, {"POST", "/v1/alarms", create, 403}, {"DELETE", one, "", 403}},
		"unscoped": {{"GET", one, "", 403}, {"GET", "/v1/alarms", "", 403}, {"PATCH", one, body, 403}},
		"system-reader": {{"GET", one, "", 200}, {"GET", "/v1/alarms?all_projects=true", "", 200}, {"GET", "/v1/alarms", "", 200},
			{"PATCH", one, body, 403}, {"POST", "/v1/alarms", create, 403}},
		"system-admin": {{"GET", one, "", 200}, {"DELETE", one, "", 403}},
		"admin":        {{"GET", one, "", 200}},
		"demo-member": {{"POST", "/v1/alarms", `{"name": "h", "metric": "cpu_util", "host": "cmp1", "comparison": "gt", "threshold": 1}`, 403},
			{"POST", "/v1/alarms", `{"name": "p", "metric": "cpu_util", "project_id": "` + env.Get(t, "VMMON_PROJECT_ALT_DEMO_ID") +
				`", "comparison": "gt", "threshold": 1}`, 403}},
	}
	cells := 0
	for kind, cs := range cases {
		for _, c := range cs {
			code, out := b.do(t, c.method, c.path, tok[kind], c.body)
			cells++
			if code != c.want {
				t.Errorf("%s token: %s %s = %d; want %d: %s", kind, c.method, c.path, code, c.want, out)
				continue
			}
			if strings.Contains(out, "hush") {
				t.Errorf("%s token: %s %s shows the webhook secret: %s", kind, c.method, c.path, out)
			}
			if code == 403 && (kind == "domain" || kind == "unscoped" || strings.HasPrefix(kind, "system")) && !strings.Contains(out, "scoped token") {
				t.Errorf("%s token: %s %s: the 403 does not name the scope needed: %s", kind, c.method, c.path, out)
			}
		}
	}
	// Another project's listing does not show the alarm; a system reader's does.
	for kind, want := range map[string]int{"alt-member": 0, "system-reader": 1, "demo-reader": 1} {
		_, out := b.do(t, "GET", "/v1/alarms", tok[kind], "")
		var list struct{ Alarms []struct{ ID string } }
		if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Alarms) != want {
			t.Errorf("%s lists %s; want %d alarm(s)", kind, out, want)
		}
	}
	if code, out := b.do(t, "POST", "/v1/alarms", tok["admin"], `{"name": "h", "metric": "cpu_util", "host": "cmp1", "comparison": "gt", "threshold": 1}`); code != 201 {
		t.Errorf("an administrator's host alarm: %d %s", code, out)
	}
	if err := alarms.Delete(ctx, member, a.ID).ExtractErr(); err != nil {
		t.Errorf("delete: %v", err)
	}
	if _, err := alarms.Get(ctx, member, a.ID).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Errorf("deleted alarm: %v", err)
	}
	t.Logf("%d cells of token kind × alarm call checked", cells)
}
