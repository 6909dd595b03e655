package api

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/auth"
	"opendev.org/openstack/vmmon/vmmon/policy"
	"opendev.org/openstack/vmmon/vmmon/storage"
)

// newFleetSetup is newSetup with memory.usage paired with projects and hosts
// for five minutes to now (instA 10, instA2 20, instB 50, each minute), a
// deleted instance, and a system reader ("system").
func newFleetSetup(t *testing.T) *setup {
	t.Helper()
	s := newSetup(t)
	ctx := context.Background()
	deleted := storage.Instance{ID: "dddddddd-0000-4000-8000-000000000009", ProjectID: "p-a", Name: "gone", State: "deleted", Deleted: true,
		UpdatedAt: now, Source: "nova"}
	if err := s.store.PutInstance(ctx, deleted); err != nil {
		t.Fatal(err)
	}
	var samples []storage.Sample
	for m := 5; m >= 1; m-- {
		for _, p := range []struct {
			id, project, host string
			v                 float64
		}{{instA, "p-a", "cmp1", 10}, {instA2, "p-a", "cmp2", 20}, {instB, "p-b", "cmp1", 50}} {
			samples = append(samples, storage.Sample{InstanceID: p.id, Metric: "memory.usage", Time: now.Add(-time.Duration(m) * time.Minute),
				Value: p.v, Unit: "MB", Kind: "gauge", ProjectID: p.project, Host: p.host})
		}
	}
	if err := s.store.WriteSamples(ctx, samples); err != nil {
		t.Fatal(err)
	}
	who := tokens{"system": {UserID: "u-sys", SystemScope: "all", Roles: []string{"reader"}}}
	for k, v := range callers {
		who[k] = v
	}
	pol, err := policy.New("")
	if err != nil {
		t.Fatal(err)
	}
	s.srv = New(Config{Store: s.store, Validator: who, Policy: pol, MaxPoints: 12, MaxLimit: 50, Log: quiet,
		StaleAfter: 3, DownAfter: 10, Now: func() time.Time { return now }}).Handler()
	return s
}

// groups writes a fleet view's groups as key=value in their order.
func groups(r *response) string {
	var out []string
	for _, x := range r.list("aggregates") {
		a := x.(map[string]any)
		key := a["instance_id"]
		switch {
		case a["name"] != nil:
			key = a["name"]
		case a["host"] != nil:
			key = a["host"]
		case key == nil:
			key = a["project_id"]
		}
		out = append(out, fmt.Sprintf("%v=%v", key, a["value"]))
	}
	return strings.Join(out, " ")
}

func TestAggregatesWhoSeesWhat(t *testing.T) {
	s := newFleetSetup(t)
	for _, c := range []struct {
		token, query string
		code         int
		want         string
	}{
		{"member", "metric=memory.usage", 200, "a2=20 a1=10"},
		{"reader", "metric=memory.usage&sort=value:asc&limit=1", 200, "a1=10"},
		{"reader", "metric=memory.usage&group_by=project", 200, "p-a=15"},
		{"member", "metric=memory.usage&project_id=p-b", 403, ""},
		{"member", "metric=memory.usage&all_projects=true", 403, ""},
		{"member", "metric=memory.usage&group_by=host", 403, ""},
		{"member", "metric=memory.usage&host=cmp1", 403, ""},
		{"admin", "metric=memory.usage&all_projects=true", 200, "b1=50 a2=20 a1=10"},
		{"admin", "metric=memory.usage&project_id=p-b", 200, "b1=50"},
		{"admin", "metric=memory.usage&all_projects=true&group_by=host&aggregation=sum", 200, "cmp1=60 cmp2=20"},
		{"admin", "metric=memory.usage&group_by=host&aggregation=sum", 200, ""}, // its own project, p-admin, has none
		{"system", "metric=memory.usage&group_by=project&aggregation=max", 200, "p-b=50 p-a=20"},
		{"system", "metric=memory.usage&host=cmp1&state=active", 200, "b1=50 a1=10"},
		{"other", "metric=memory.usage&start=2026-11-28T11:55:00Z", 200, "b1=50"},
	} {
		r := s.do("GET", "/v1/aggregates?"+c.query, c.token)
		if r.code != c.code || (c.code == 200 && groups(r) != c.want) {
			t.Errorf("%s %s: %d %s; want %d %s (%s)", c.token, c.query, r.code, groups(r), c.code, c.want, r.raw)
		}
	}
}

func TestAggregatesBody(t *testing.T) {
	s := newFleetSetup(t)
	r := s.do("GET", "/v1/aggregates?metric=memory.usage&limit=1", "member").expect(200)
	a := r.list("aggregates")[0].(map[string]any)
	if a["instance_id"] != instA2 || a["name"] != "a2" || a["project_id"] != "p-a" || a["host"] != nil || a["host_id"] != hostID("p-a", "cmp2") ||
		a["series"] != 1.0 || a["unit"] != "MB" || a["timestamp"] != "2026-11-28T11:59:00Z" || r.body["start"] != nil ||
		r.body["metric"] != "memory.usage" || r.body["aggregation"] != "mean" || r.body["group_by"] != "instance" {
		t.Errorf("a member's top instance: %s", r.raw)
	}
	links := r.list("aggregates_links")
	next, _ := url.Parse(links[len(links)-1].(map[string]any)["href"].(string))
	if len(links) != 2 || next.Query().Get("marker") != instA2 {
		t.Fatalf("links %v", links)
	}
	if got := groups(s.do("GET", next.RequestURI(), "member").expect(200)); got != "a1=10" {
		t.Errorf("the next page: %s", got)
	}
	if a := s.do("GET", "/v1/aggregates?metric=memory.usage", "admin").list("aggregates"); len(a) != 0 {
		t.Errorf("the admin's own project (p-admin) has no instance: %v", a)
	}
	if a := s.do("GET", "/v1/aggregates?metric=memory.usage&all_projects=true&limit=1", "admin").list("aggregates"); a[0].(map[string]any)["host"] != "cmp1" {
		t.Errorf("admins see hosts: %v", a)
	}
	for _, c := range []struct{ query, code string }{
		{"", "vmmon.query.missing_metric"},
		{"metric=cpu_util&bogus=1", "vmmon.query.unknown_parameter"},
		{"metric=cpu_util&sort=name", "vmmon.query.bad_sort"},
		{"metric=cpu_util&end=2026-11-28T11:00:00Z", "vmmon.query.bad_range"},
		{"metric=cpu_util&start=yesterday", "vmmon.query.bad_time"},
		{"metric=cpu_util&group_by=flavor", "vmmon.aggregates.invalid"},
		{"metric=cpu_util&aggregation=median", "vmmon.aggregates.invalid"},
		{"metric=cpu_util&marker=nope", "vmmon.aggregates.invalid"},
		{"metric=cpu_util&limit=0", "vmmon.query.bad_limit"},
	} {
		s.do("GET", "/v1/aggregates?"+c.query, "member").expectError(400, c.code)
	}
	domain := tokens{"domain": {UserID: "u-d", DomainID: "default", Roles: []string{"admin", "reader"}}}
	pol, _ := policy.New("")
	s.srv = New(Config{Store: s.store, Validator: domain, Policy: pol, Log: quiet}).Handler()
	s.do("GET", "/v1/aggregates?metric=cpu_util", "domain").expectError(403, "vmmon.forbidden.scope")
}

func TestAggregateMeasures(t *testing.T) {
	s := newFleetSetup(t)
	base := "/v1/aggregates/measures?metric=memory.usage&aggregation=sum&group_by=host&all_projects=true&start=2026-11-28T11:55:00Z"
	r := s.do("GET", base, "admin").expect(200)
	if groups(r) != "cmp1=60 cmp2=20" || r.body["granularity"] != 60.0 || r.body["end"] != "2026-11-28T12:00:00Z" {
		t.Fatalf("per host: %s", r.raw)
	}
	cmp1 := r.list("aggregates")[0].(map[string]any)
	if points := cmp1["points"].([]any); len(points) != 5 || points[0].(map[string]any)["value"] != 60.0 ||
		points[0].(map[string]any)["timestamp"] != "2026-11-28T11:55:00Z" || cmp1["series"] != 2.0 || cmp1["timestamp"] != nil {
		t.Errorf("cmp1: %v", cmp1)
	}
	// [api] max_points is 12 here: two groups of 5 or 6 points to a page
	// (a full page has a next link), one of 7.
	if links := r.list("aggregates_links"); len(links) != 2 {
		t.Errorf("two groups of a page of up to two: %v", links)
	}
	r = s.do("GET", strings.Replace(base, "11:55", "11:54", 1)+"&granularity=60", "admin").expect(200)
	if links := r.list("aggregates_links"); len(r.list("aggregates")) != 2 || len(links) != 2 {
		t.Errorf("a page of two groups of 6 points: %s", r.raw)
	}
	r = s.do("GET", strings.Replace(base, "11:55", "11:53", 1), "admin").expect(200)
	if links := r.list("aggregates_links"); groups(r) != "cmp1=60" || len(links) != 2 {
		t.Errorf("groups of 7 points, one to a page: %s", r.raw)
	}
	s.do("GET", base+"&limit=3", "admin").expectError(400, "vmmon.query.bad_limit")
	s.do("GET", strings.Replace(base, "11:55", "10:00", 1), "admin").expectError(400, "vmmon.aggregates.invalid")
	s.do("GET", base+"&granularity=90", "admin").expectError(400, "vmmon.aggregates.invalid")
	s.do("GET", base+"&granularity=x", "admin").expectError(400, "vmmon.query.bad_granularity")
	s.do("GET", base, "member").expectError(403, "vmmon.forbidden")
	r = s.do("GET", "/v1/aggregates/measures?metric=memory.usage&group_by=project&start=2026-11-28T11:55:00Z&granularity=300", "member").expect(200)
	if groups(r) != "p-a=15" || len(r.list("aggregates")[0].(map[string]any)["points"].([]any)) != 1 {
		t.Errorf("the member's project per 5 minutes: %s", r.raw)
	}
}

func TestListInstancesSortAndFilters(t *testing.T) {
	s := newFleetSetup(t)
	names := func(r *response) string {
		var out []string
		for _, x := range r.list("instances") {
			out = append(out, x.(map[string]any)["name"].(string))
		}
		return strings.Join(out, " ")
	}
	for _, c := range []struct {
		token, query, want string
	}{
		{"member", "", "a1 a2"},
		{"member", "deleted=true", "gone"},
		{"member", "changes-since=2026-11-28T00:00:00Z", "a1 a2 gone"},
		{"member", "changes-since=2026-11-28T00:00:00Z&deleted=false", "a1 a2"},
		{"member", "changes-since=2026-11-29T00:00:00Z", ""},
		{"member", "name=A2", "a2"},
		{"member", "sort=name:desc", "a2 a1"},
		{"member", "sort=memory.usage:desc", "a2 a1"},
		{"member", "sort=memory.usage", "a1 a2"},
		{"member", "sort=state:desc,name", "a2 a1"},
		{"member", "sort=state&sort=name:desc&limit=1", "a1"},
		{"admin", "all_projects=true&sort=host,memory.usage:desc", "b1 a1 a2"},
		{"admin", "all_projects=true&sort=cpu_util:desc", "a1 a2 b1"}, // no latest values: by id
	} {
		if got := names(s.do("GET", "/v1/instances?"+c.query, c.token).expect(200)); got != c.want {
			t.Errorf("%s %s: %s; want %s", c.token, c.query, got, c.want)
		}
	}
	r := s.do("GET", "/v1/instances?sort=memory.usage:desc&limit=1", "member").expect(200)
	links := r.list("instances_links")
	next, _ := url.Parse(links[len(links)-1].(map[string]any)["href"].(string))
	if got := names(s.do("GET", next.RequestURI(), "member").expect(200)); len(links) != 2 || got != "a1" {
		t.Errorf("the next page of a sorted listing: %s (links %v)", got, links)
	}
	s.do("GET", "/v1/instances?sort=host", "member").expectError(403, "vmmon.forbidden")
	s.do("GET", "/v1/instances?sort=name:up", "member").expectError(400, "vmmon.query.bad_sort")
	s.do("GET", "/v1/instances?deleted=maybe", "member").expectError(400, "vmmon.query.bad_deleted")
	s.do("GET", "/v1/instances?changes-since=soon", "member").expectError(400, "vmmon.query.bad_time")
	s.do("GET", "/v1/instances?sort=name&marker="+instB, "member").expectError(400, "vmmon.query.bad_marker")
}

var _ auth.Validator = tokens{}
