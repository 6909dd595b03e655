package api

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/auth"
	"opendev.org/openstack/vmmon/vmmon/livestream"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/policy"
	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/storage/embedded"
)

// tokens is a Validator test double: token → caller.
type tokens map[string]*auth.Caller

func (t tokens) Validate(_ context.Context, token string) (*auth.Caller, error) {
	switch token {
	case "keystone-down":
		return nil, auth.ErrUnavailable
	}
	if c, ok := t[token]; ok {
		return c, nil
	}
	return nil, auth.ErrInvalidToken
}

var (
	now     = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	instA   = "aaaaaaaa-0000-4000-8000-000000000001"
	instB   = "bbbbbbbb-0000-4000-8000-000000000002"
	instA2  = "aaaaaaaa-0000-4000-8000-000000000003"
	callers = tokens{
		"admin":  {UserID: "u-admin", ProjectID: "p-admin", Roles: []string{"admin", "member", "reader"}},
		"member": {UserID: "u-m", ProjectID: "p-a", Roles: []string{"member", "reader"}},
		"reader": {UserID: "u-r", ProjectID: "p-a", Roles: []string{"reader"}},
		"other":  {UserID: "u-o", ProjectID: "p-b", Roles: []string{"member", "reader"}},
	}
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// setup is the test harness: a server on an embedded store with two projects'
// instances, measures and events.
type setup struct {
	t     *testing.T
	srv   http.Handler
	store storage.Store
}

func newSetup(t *testing.T, with ...func(*Config)) *setup {
	t.Helper()
	st, err := embedded.Open(t.TempDir(), storage.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	for _, in := range []storage.Instance{
		{ID: instA, ProjectID: "p-a", Name: "a1", Host: "cmp1", State: "active", UpdatedAt: now, Source: "nova"},
		{ID: instA2, ProjectID: "p-a", Name: "a2", Host: "cmp2", State: "stopped", UpdatedAt: now, Source: "nova"},
		{ID: instB, ProjectID: "p-b", Name: "b1", Host: "cmp1", State: "active", UpdatedAt: now, Source: "nova"},
	} {
		if err := st.PutInstance(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	var samples []storage.Sample
	for i := 0; i < 30; i++ {
		samples = append(samples, storage.Sample{InstanceID: instA, Metric: "cpu_util", Time: now.Add(-time.Duration(30-i) * time.Minute),
			Value: float64(i), Unit: "%", Kind: "rate"},
			storage.Sample{InstanceID: instB, Metric: "cpu_util", Time: now.Add(-time.Duration(30-i) * time.Minute),
				Value: 50, Unit: "%", Kind: "rate"})
	}
	if err := st.WriteSamples(ctx, samples); err != nil {
		t.Fatal(err)
	}
	_ = st.AddEvent(ctx, storage.Event{InstanceID: instA, ID: "e1", Time: now.Add(-time.Hour), Source: "nova", Type: "instance.create.end"})
	_ = st.PutHeartbeat(ctx, storage.Host{Name: "cmp1", LastHeartbeat: now.Add(-5 * time.Second), Interval: 10})
	_ = st.PutHeartbeat(ctx, storage.Host{Name: "cmp2", LastHeartbeat: now.Add(-45 * time.Second), Interval: 10})
	pol, err := policy.New("")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Store: st, Validator: callers, Policy: pol, AuthURI: "http://keystone/v3", MaxPoints: 100, MaxLimit: 50, Log: quiet,
		StaleAfter: 3, DownAfter: 10, Now: func() time.Time { return now }}
	for _, f := range with {
		f(&cfg)
	}
	s := New(cfg)
	return &setup{t: t, srv: s.Handler(), store: st}
}

type response struct {
	t    *testing.T
	code int
	hdr  http.Header
	body map[string]any
	raw  string
}

func (s *setup) do(method, path, token string, hdr ...string) *response {
	s.t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	s.srv.ServeHTTP(rec, req)
	raw, _ := io.ReadAll(rec.Body)
	r := &response{t: s.t, code: rec.Code, hdr: rec.Header(), raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (r *response) expect(code int) *response {
	r.t.Helper()
	if r.code != code {
		r.t.Fatalf("status %d; want %d: %s", r.code, code, r.raw)
	}
	if r.hdr.Get("X-Openstack-Request-Id") == "" {
		r.t.Error("no x-openstack-request-id")
	}
	return r
}

// expectError checks the API-SIG error body.
func (r *response) expectError(code int, errCode string) *response {
	r.t.Helper()
	r.expect(code)
	errs, _ := r.body["errors"].([]any)
	if len(errs) != 1 {
		r.t.Fatalf("error body %s", r.raw)
	}
	e := errs[0].(map[string]any)
	if e["code"] != errCode || e["status"].(float64) != float64(code) || e["detail"] == "" ||
		e["request_id"] != r.hdr.Get("X-Openstack-Request-Id") {
		r.t.Errorf("error %v; want code %s", e, errCode)
	}
	return r
}

func (r *response) list(key string) []any { v, _ := r.body[key].([]any); return v }

func TestDiscoveryAndHealth(t *testing.T) {
	s := newSetup(t)
	r := s.do("GET", "/", "").expect(200)
	v := r.list("versions")[0].(map[string]any)
	if v["id"] != "v1.0" || v["status"] != "CURRENT" || v["max_version"] != "1.0" ||
		!strings.HasSuffix(v["links"].([]any)[0].(map[string]any)["href"].(string), "/v1/") {
		t.Errorf("versions %s", r.raw)
	}
	s.do("GET", "/v1", "").expect(200)
	if r := s.do("GET", "/healthcheck", "").expect(200); r.raw != "OK" {
		t.Errorf("healthcheck %q", r.raw)
	}
}

func TestMicroversions(t *testing.T) {
	s := newSetup(t)
	cases := []struct {
		header string
		code   int
		echo   string
	}{
		{"", 200, "vm-monitor 1.0"},
		{"vm-monitor 1.0", 200, "vm-monitor 1.0"},
		{"vm-monitor latest", 200, "vm-monitor 1.0"},
		{"compute 2.90", 200, "vm-monitor 1.0"},
		{"vm-monitor 1.x", 400, ""},
		{"vm-monitor 2.0", 406, ""},
	}
	for _, c := range cases {
		r := s.do("GET", "/v1/instances", "member", "OpenStack-API-Version", c.header)
		if r.code != c.code || (c.echo != "" && r.hdr.Get("OpenStack-API-Version") != c.echo) ||
			!strings.Contains(r.hdr.Get("Vary"), "OpenStack-API-Version") {
			t.Errorf("%q: %d %q vary %q", c.header, r.code, r.hdr.Get("OpenStack-API-Version"), r.hdr.Get("Vary"))
		}
	}
}

func TestAuthentication(t *testing.T) {
	s := newSetup(t)
	r := s.do("GET", "/v1/instances", "").expectError(401, "vmmon.unauthorized")
	if r.hdr.Get("WWW-Authenticate") != `Keystone uri="http://keystone/v3"` {
		t.Errorf("WWW-Authenticate %q", r.hdr.Get("WWW-Authenticate"))
	}
	s.do("GET", "/v1/instances", "garbage").expectError(401, "vmmon.unauthorized")
	s.do("GET", "/v1/instances", "keystone-down").expectError(503, "vmmon.identity_unavailable")
}

// Who sees what: the policy matrix over own and foreign instances.
func TestAccessMatrix(t *testing.T) {
	s := newSetup(t)
	paths := []string{"/v1/instances/%s", "/v1/instances/%s/metrics", "/v1/instances/%s/events",
		"/v1/instances/%s/metrics/cpu_util/measures?start=2026-11-28T11:00:00Z"}
	cases := []struct {
		token, inst string
		code        int
	}{
		{"admin", instA, 200}, {"admin", instB, 200},
		{"member", instA, 200}, {"member", instB, 404},
		{"reader", instA, 200}, {"reader", instB, 404},
		{"other", instA, 404}, {"other", instB, 200},
	}
	for _, c := range cases {
		for _, p := range paths {
			path := strings.Replace(p, "%s", c.inst, 1)
			if r := s.do("GET", path, c.token); r.code != c.code {
				t.Errorf("%s GET %s: %d; want %d (%s)", c.token, path, r.code, c.code, r.raw)
			} else if c.code == 404 && (strings.Contains(r.raw, `"name"`) || strings.Contains(r.raw, `"points"`)) {
				t.Errorf("%s GET %s leaks data: %s", c.token, path, r.raw)
			}
		}
	}
	for _, c := range []struct {
		token string
		code  int
	}{{"admin", 200}, {"member", 403}, {"reader", 403}} {
		s.do("GET", "/v1/hosts", c.token).expect(c.code)
		s.do("GET", "/v1/hosts/cmp1", c.token).expect(c.code)
	}
}

func TestListInstances(t *testing.T) {
	s := newSetup(t)
	if got := ids(s.do("GET", "/v1/instances", "member").expect(200)); len(got) != 2 || got[0] != instA {
		t.Errorf("member's own project: %v", got)
	}
	if got := ids(s.do("GET", "/v1/instances?all_projects=true", "admin").expect(200)); len(got) != 3 {
		t.Errorf("admin all projects: %v", got)
	}
	if got := ids(s.do("GET", "/v1/instances?project_id=p-b", "admin").expect(200)); len(got) != 1 || got[0] != instB {
		t.Errorf("admin project p-b: %v", got)
	}
	s.do("GET", "/v1/instances?all_projects=true", "member").expectError(403, "vmmon.forbidden")
	s.do("GET", "/v1/instances?project_id=p-b", "member").expectError(403, "vmmon.forbidden")
	if got := ids(s.do("GET", "/v1/instances?state=stopped", "reader").expect(200)); len(got) != 1 || got[0] != instA2 {
		t.Errorf("state filter: %v", got)
	}
	// Paging: limit 1 gives a next link that leads to the second page.
	r := s.do("GET", "/v1/instances?limit=1", "member").expect(200)
	links := r.list("instances_links")
	if len(links) != 2 || links[0].(map[string]any)["rel"] != "self" || links[1].(map[string]any)["rel"] != "next" {
		t.Fatalf("want self and next links: %s", r.raw)
	}
	next := links[1].(map[string]any)["href"].(string)
	next = next[strings.Index(next, "/v1/"):]
	if got := ids(s.do("GET", next, "member").expect(200)); len(got) != 1 || got[0] != instA2 {
		t.Errorf("second page %v", got)
	}
	s.do("GET", "/v1/instances?limit=0", "member").expectError(400, "vmmon.query.bad_limit")
	s.do("GET", "/v1/instances?marker=nope", "member").expectError(400, "vmmon.query.bad_marker")
	s.do("GET", "/v1/instances?order=name", "member").expectError(400, "vmmon.query.unknown_parameter")
}

func TestInstanceAndMeasures(t *testing.T) {
	s := newSetup(t)
	r := s.do("GET", "/v1/instances/"+instA, "reader").expect(200)
	agent := r.body["agent"].(map[string]any)
	if agent["status"] != "up" || r.body["data_stale"] != false || len(r.list("latest")) != 1 {
		t.Errorf("instance %s", r.raw)
	}
	if r := s.do("GET", "/v1/instances/"+instA2, "reader").expect(200); r.body["agent"].(map[string]any)["status"] != "stale" ||
		r.body["data_stale"] != true {
		t.Errorf("instance on a stale host: %s", r.raw)
	}
	r = s.do("GET", "/v1/instances/"+instA+"/metrics/cpu_util/measures?start=2026-11-28T11:30:00Z&end=2026-11-28T12:00:00Z&granularity=300&aggregation=max", "reader").expect(200)
	m := r.body["measures"].(map[string]any)
	series := m["series"].([]any)[0].(map[string]any)
	pts := series["points"].([]any)
	if m["granularity"].(float64) != 300 || len(pts) != 6 || pts[0].(map[string]any)["value"].(float64) != 4 {
		t.Errorf("measures %s", r.raw)
	}
	bad := map[string]string{
		"granularity=90":    "vmmon.measures.invalid",
		"granularity=often": "vmmon.query.bad_granularity",
		"start=yesterday":   "vmmon.query.bad_time",
		"start=2026-11-28T12:00:00Z&end=2026-11-28T11:00:00Z": "vmmon.measures.invalid",
		"aggregation=median":                        "vmmon.measures.invalid",
		"granularity=60&start=2026-01-01T00:00:00Z": "vmmon.measures.invalid",
		"colour=red":                                "vmmon.query.unknown_parameter",
	}
	for q, code := range bad {
		s.do("GET", "/v1/instances/"+instA+"/metrics/cpu_util/measures?"+q, "reader").expectError(400, code)
	}
	s.do("GET", "/v1/instances/"+instA+"/metrics/bogus/measures", "reader").expectError(400, "vmmon.measures.invalid")
	s.do("GET", "/v1/instances/not-a-uuid", "reader").expectError(400, "vmmon.instance.bad_id")
	s.do("GET", "/v1/instances/"+instA+"/events", "reader").expect(200)
	s.do("DELETE", "/v1/instances/"+instA, "admin").expectError(405, "vmmon.method_not_allowed")
	s.do("GET", "/v1/nothing", "admin").expectError(404, "vmmon.not_found")
}

func FuzzInstancesQuery(f *testing.F) {
	st, err := embedded.Open(f.TempDir(), storage.Retention{})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	pol, _ := policy.New("")
	h := New(Config{Store: st, Validator: callers, Policy: pol, Log: quiet, Now: func() time.Time { return now }}).Handler()
	f.Add("limit=5&marker=aaaaaaaa-0000-4000-8000-000000000001")
	f.Add("start=2026-11-28T11:00:00Z&granularity=300")
	f.Fuzz(func(t *testing.T, q string) {
		for _, p := range []string{"/v1/instances?", "/v1/instances/" + instA + "/metrics/cpu_util/measures?", "/v1/instances/" + instA + "/events?"} {
			req, err := http.NewRequest("GET", p+q, nil)
			if err != nil {
				return
			}
			req.Header.Set("X-Auth-Token", "admin")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s%s: %d %s", p, q, rec.Code, rec.Body.String())
			}
		}
	})
}

func batchDelivery(t *testing.T, id string, v float64) messaging.Delivery {
	t.Helper()
	payload, _ := agentmsg.Wrap(agentmsg.ObjectBatch, agentmsg.Batch{Host: "cmp1", Seq: 1, Time: now, Instances: []agentmsg.Instance{{
		UUID: id, State: "running", Time: now, Metrics: []agentmsg.Metric{{Name: "cpu_util", Value: v, Unit: "%", Kind: "rate"}}}}})
	body, _ := messaging.Encode(&messaging.Message{MessageID: "m", EventType: agentmsg.EventSamples, Priority: "INFO", Timestamp: now, Payload: payload})
	return messaging.Delivery{RoutingKey: "samples.cmp1", Body: body}
}

// The live stream sends an instance's samples as Server-Sent Events; a
// client that disconnects frees everything; a slow one is dropped.
func TestLiveStream(t *testing.T) {
	st, _ := embedded.Open(t.TempDir(), storage.Retention{})
	defer st.Close()
	_ = st.PutInstance(context.Background(), storage.Instance{ID: instA, ProjectID: "p-a", UpdatedAt: now})
	pol, _ := policy.New("")
	hub := livestream.NewHub(2)
	srv := httptest.NewServer(New(Config{Store: st, Validator: callers, Policy: pol, Log: quiet, Live: hub, Now: func() time.Time { return now }}).Handler())
	defer srv.Close()
	open := func(token string) (*http.Response, *bufio.Reader) {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/instances/"+instA+"/stream", nil)
		req.Header.Set("X-Auth-Token", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp, bufio.NewReader(resp.Body)
	}
	if resp, _ := open("other"); resp.StatusCode != 404 {
		t.Errorf("another project's stream: %d", resp.StatusCode)
	}
	resp, rd := open("reader")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if opening := readEvent(rd); opening["retry"] != "3000" {
		t.Errorf("the stream does not tell browsers when to reconnect: %v", opening)
	}
	for hub.Clients() != 1 {
		time.Sleep(10 * time.Millisecond)
	}
	hub.HandleDelivery(context.Background(), batchDelivery(t, instA, 42))
	hub.HandleDelivery(context.Background(), batchDelivery(t, instB, 7)) // not this stream's
	ev := readEvent(rd)
	if ev["event"] != "sample" || ev["id"] != "1" || !strings.Contains(ev["data"], `"value":42`) || !strings.Contains(ev["data"], instA) ||
		strings.Contains(ev["data"], "cmp1") {
		t.Errorf("event %v; want sample 1 of %s without its host", ev, instA)
	}
	resp.Body.Close()
	deadline := time.Now().Add(2 * time.Second)
	for hub.Clients() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if hub.Clients() != 0 {
		t.Errorf("%d clients after the client left", hub.Clients())
	}
	// A client that reads nothing is dropped once its buffer is full.
	slow, _ := hub.Subscribe(instA, "u-slow", 0)
	for i := 0; i < 5; i++ {
		hub.HandleDelivery(context.Background(), batchDelivery(t, instA, float64(i)))
	}
	select {
	case <-slow.Dropped:
	default:
		t.Error("a slow client was not dropped")
	}
	if hub.Clients() != 0 {
		t.Errorf("%d clients after the slow one was dropped", hub.Clients())
	}
}

// readEvent reads one Server-Sent Event (up to its blank line) as field →
// value; comment lines are skipped.
func readEvent(rd *bufio.Reader) map[string]string {
	ev := map[string]string{}
	for {
		line, err := rd.ReadString('\n')
		line = strings.TrimSuffix(line, "\n")
		if err != nil || (line == "" && len(ev) > 0) {
			return ev
		}
		if k, v, ok := strings.Cut(line, ": "); ok && k != "" {
			ev[k] = v
		}
	}
}

// A user may hold only so many streams; a stream ends when its token
// expires (and at its maximum lifetime); the host is shown to those the
// host rule allows.
func TestLiveStreamLimits(t *testing.T) {
	st, _ := embedded.Open(t.TempDir(), storage.Retention{})
	defer st.Close()
	_ = st.PutInstance(context.Background(), storage.Instance{ID: instA, ProjectID: "p-a", Host: "cmp1", UpdatedAt: now})
	pol, _ := policy.New("")
	hub := livestream.NewHub(8)
	expiring := tokens{
		"soon":  {UserID: "u-soon", ProjectID: "p-a", Roles: []string{"reader"}, ExpiresAt: time.Now().Add(500 * time.Millisecond)},
		"admin": callers["admin"], "reader": callers["reader"],
	}
	srv := httptest.NewServer(New(Config{Store: st, Validator: expiring, Policy: pol, Log: quiet, Live: hub, StreamsPerUser: 1,
		StreamMaxLifetime: time.Minute, Now: func() time.Time { return now }}).Handler())
	t.Cleanup(srv.Close)
	open := func(token string) (*http.Response, *bufio.Reader) {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/instances/"+instA+"/stream", nil)
		req.Header.Set("X-Auth-Token", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp, bufio.NewReader(resp.Body)
	}
	first, rd := open("reader")
	readEvent(rd)
	if first.StatusCode != 200 {
		t.Fatalf("first stream: %d", first.StatusCode)
	}
	if second, _ := open("reader"); second.StatusCode != http.StatusTooManyRequests || second.Header.Get("Retry-After") == "" {
		t.Errorf("a second stream of the same user: %d; want 429 with Retry-After", second.StatusCode)
	}
	admin, ard := open("admin")
	readEvent(ard)
	if admin.StatusCode != 200 {
		t.Fatalf("another user's stream: %d", admin.StatusCode)
	}
	for hub.Clients() != 2 {
		time.Sleep(10 * time.Millisecond)
	}
	hub.HandleDelivery(context.Background(), batchDelivery(t, instA, 5))
	if ev := readEvent(ard); !strings.Contains(ev["data"], `"host":"cmp1"`) {
		t.Errorf("the administrator's sample has no host: %v", ev)
	}
	if ev := readEvent(rd); ev["event"] != "sample" || strings.Contains(ev["data"], "cmp1") {
		t.Errorf("the reader's sample: %v; want one without the host", ev)
	}
	soon, srd := open("soon")
	readEvent(srd)
	if soon.StatusCode != 200 {
		t.Fatalf("stream of an expiring token: %d", soon.StatusCode)
	}
	done := make(chan map[string]string, 1)
	go func() { done <- readEvent(srd) }()
	select {
	case ev := <-done:
		if ev["event"] != "end" {
			t.Errorf("at the token's expiry: %v; want the end event", ev)
		}
	case <-time.After(10 * time.Second):
		t.Error("the stream outlived its token")
	}
}
