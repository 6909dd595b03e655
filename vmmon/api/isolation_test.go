package api

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/auth"
	"opendev.org/openstack/vmmon/vmmon/storage"
)

// Callers of every token scope, added to the test doubles.
func init() {
	callers["system-reader"] = &auth.Caller{UserID: "u-sys", SystemScope: "all", Roles: []string{"reader"}}
	callers["domain-admin"] = &auth.Caller{UserID: "u-dom", DomainID: "default", Roles: []string{"admin", "member", "reader"}}
	callers["unscoped"] = &auth.Caller{UserID: "u-none"}
	callers["limited"] = &auth.Caller{UserID: "u-m", ProjectID: "p-a", Roles: []string{"member", "reader"},
		AccessRules: []auth.AccessRule{{Service: "vm-monitor", Method: "GET", Path: "/v1/instances/{id}"}}}
}

// Token scopes: a system reader sees every project; domain-scoped and
// unscoped tokens see nothing project-bound, with a 403 that names the
// scope needed, before anything is read; access rules restrict an
// application credential's token.
func TestTokenScopes(t *testing.T) {
	s := newSetup(t)
	if got := ids(s.do("GET", "/v1/instances", "system-reader").expect(200)); len(got) != 3 {
		t.Errorf("system reader's listing: %v", got)
	}
	s.do("GET", "/v1/instances/"+instB, "system-reader").expect(200)
	s.do("GET", "/v1/hosts", "system-reader").expect(200)
	for _, token := range []string{"domain-admin", "unscoped"} {
		for _, path := range []string{"/v1/instances", "/v1/instances?all_projects=true", "/v1/instances/" + instA,
			"/v1/instances/" + instA + "/metrics/cpu_util/measures", "/v1/instances/" + instA + "/actions", "/v1/hosts"} {
			r := s.do("GET", path, token).expectError(403, "vmmon.forbidden.scope")
			if !strings.Contains(r.raw, "project- or system-scoped token") {
				t.Errorf("%s GET %s: %s", token, path, r.raw)
			}
		}
	}
	s.do("GET", "/v1/instances/"+instA, "limited").expect(200)
	s.do("GET", "/v1/instances/"+instA+"/events", "limited").expectError(401, "vmmon.unauthorized")
	s.do("GET", "/v1/instances", "limited").expectError(401, "vmmon.unauthorized")
}

// Hosts are shown to administrators; everyone gets host_id, the same for
// two instances of one project on one host and different across projects.
func TestHostVisibility(t *testing.T) {
	s := newSetup(t)
	view := func(token, id string) map[string]any {
		return s.do("GET", "/v1/instances/"+id, token).expect(200).body["instance"].(map[string]any)
	}
	member := view("member", instA)
	if _, ok := member["host"]; ok {
		t.Errorf("a member sees the host: %v", member)
	}
	if _, ok := member["node"]; ok {
		t.Errorf("a member sees the node: %v", member)
	}
	agent := s.do("GET", "/v1/instances/"+instA, "member").body["agent"].(map[string]any)
	if _, ok := agent["host"]; ok || agent["status"] != "up" {
		t.Errorf("a member's agent view: %v", agent)
	}
	admin := view("admin", instA)
	if admin["host"] != "cmp1" || admin["host_id"] != member["host_id"] || member["host_id"] == "" {
		t.Errorf("admin sees %v; member %v", admin, member)
	}
	if other := view("admin", instB); other["host"] != "cmp1" || other["host_id"] == member["host_id"] {
		t.Errorf("the same host in another project has the same host_id: %v", other)
	}
	listed := s.do("GET", "/v1/instances", "reader").expect(200)
	if strings.Contains(listed.raw, "cmp1") || !strings.Contains(listed.raw, member["host_id"].(string)) {
		t.Errorf("a reader's listing: %s", listed.raw)
	}
	s.do("GET", "/v1/instances?host=cmp1", "member").expectError(403, "vmmon.forbidden")
	_ = s.store.AddEvent(context.Background(), storage.Event{InstanceID: instA, ID: "e-host", Time: now.Add(-time.Minute),
		Source: "vmmon", Type: "host_mismatch", Host: "cmp9"})
	if r := s.do("GET", "/v1/instances/"+instA+"/events", "reader").expect(200); strings.Contains(r.raw, "cmp9") {
		t.Errorf("a reader sees a host in events: %s", r.raw)
	}
	if r := s.do("GET", "/v1/instances/"+instA+"/events", "admin").expect(200); !strings.Contains(r.raw, "cmp9") {
		t.Errorf("an admin does not see the event's host: %s", r.raw)
	}
}

// Events, actions and hosts are paged with limit and marker; following
// the next links visits every item once.
func TestPaging(t *testing.T) {
	s := newSetup(t)
	ctx := context.Background()
	for i := 0; i < 7; i++ {
		// Three events share a millisecond.
		at := now.Add(-time.Duration(i/3) * time.Minute)
		_ = s.store.AddEvent(ctx, storage.Event{InstanceID: instA, ID: fmt.Sprintf("p%d", i), Time: at, Source: "nova", Type: "x"})
		_, _ = s.store.PutAction(ctx, storage.Action{ID: fmt.Sprintf("a%d", i), InstanceID: instA, Action: "stop", Status: "pending",
			CreatedAt: now.Add(time.Duration(i) * time.Second)})
		_ = s.store.PutHeartbeat(ctx, storage.Host{Name: fmt.Sprintf("h%d", i), LastHeartbeat: now, Interval: 10})
	}
	walk := func(path, collection, key string) []string {
		var seen []string
		for pages := 0; path != "" && pages < 20; pages++ {
			r := s.do("GET", path, "admin").expect(200)
			for _, item := range r.list(collection) {
				seen = append(seen, item.(map[string]any)[key].(string))
			}
			path = ""
			for _, l := range r.list(collection + "_links") {
				if l.(map[string]any)["rel"] == "next" {
					href := l.(map[string]any)["href"].(string)
					path = href[strings.Index(href, "/v1/"):]
				}
			}
		}
		return seen
	}
	unique := func(name string, got []string, want int) {
		set := map[string]bool{}
		for _, g := range got {
			set[g] = true
		}
		if len(got) != want || len(set) != want {
			t.Errorf("%s: %d items, %d distinct; want %d: %v", name, len(got), len(set), want, got)
		}
	}
	unique("events", walk("/v1/instances/"+instA+"/events?limit=2", "events", "id"), 8) // 7 + the setup's e1
	unique("actions", walk("/v1/instances/"+instA+"/actions?limit=3", "actions", "id"), 7)
	unique("hosts", walk("/v1/hosts?limit=4", "hosts", "name"), 9) // 7 + cmp1, cmp2
	s.do("GET", "/v1/instances/"+instA+"/events?marker=garbage", "admin").expectError(400, "vmmon.query.bad_marker")
	s.do("GET", "/v1/instances/"+instA+"/actions?marker=nope", "admin").expectError(400, "vmmon.query.bad_marker")
}

// A measures query is refused before anything is read when its range is
// longer than the resolution keeps, and counted over every series.
func TestMeasuresBounds(t *testing.T) {
	s := newSetup(t)
	base := "/v1/instances/" + instA + "/metrics/cpu_util/measures"
	r := s.do("GET", base+"?start=2026-01-01T00:00:00Z&end=9999-12-31T00:00:00Z&granularity=922380", "reader").
		expectError(400, "vmmon.measures.invalid")
	if !strings.Contains(r.raw, "kept only 30 days") {
		t.Errorf("huge span: %s", r.raw)
	}
	// Someone else's instance is 404 whatever the query.
	s.do("GET", base+"?start=2026-01-01T00:00:00Z&end=9999-12-31T00:00:00Z&granularity=922380", "other").
		expectError(404, "vmmon.instance.not_found")
	s.do("GET", "/v1/instances/"+instA+"/actions", "reader").expect(200)
}

// Idempotency keys that are too long or not printable are refused.
func TestIdempotencyKeyValidation(t *testing.T) {
	s := newSetup(t)
	path := "/v1/instances/" + instA + "/actions"
	s.do("POST", path, "member", "Idempotency-Key", strings.Repeat("k", 256)).expectError(400, "vmmon.actions.bad_idempotency_key")
	s.do("POST", path, "member", "Idempotency-Key", "two words").expectError(400, "vmmon.actions.bad_idempotency_key")
}

func ids(r *response) []string {
	var out []string
	for _, x := range r.list("instances") {
		out = append(out, x.(map[string]any)["id"].(string))
	}
	return out
}

// /metrics counts requests by route template and status, without a token.
func TestMetrics(t *testing.T) {
	s := newSetup(t)
	s.do("GET", "/v1/instances/"+instA, "reader").expect(200)
	s.do("GET", "/v1/instances/"+instB, "reader").expectError(404, "vmmon.instance.not_found")
	r := s.do("GET", "/metrics", "")
	if r.code != 200 {
		t.Fatalf("/metrics: %d", r.code)
	}
	for _, want := range []string{
		`vmmon_api_request_duration_seconds_count{code="200",method="GET",route="/v1/instances/{id}"} 1`,
		`vmmon_api_request_duration_seconds_count{code="404",method="GET",route="/v1/instances/{id}"} 1`,
	} {
		if !strings.Contains(r.raw, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, r.raw)
		}
	}
}
