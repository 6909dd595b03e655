package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"opendev.org/openstack/vmmon/vmmon/trusts"
)

// send is do with a JSON body.
func (s *setup) send(method, path, token, body string) *response {
	s.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.srv.ServeHTTP(rec, req)
	raw, _ := io.ReadAll(rec.Body)
	r := &response{t: s.t, code: rec.Code, hdr: rec.Header(), raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (r *response) alarm() map[string]any { a, _ := r.body["alarm"].(map[string]any); return a }

const instAlarm = `{"name": "busy", "metric": "cpu_util", "instance_id": "` + "aaaaaaaa-0000-4000-8000-000000000001" + `",
	"comparison": "gt", "threshold": 80, "actions": [{"type": "webhook", "url": "https://hooks.example/a", "secret": "s3cret"}]}`

// A member creates, reads, changes and deletes an alarm on its instance;
// the webhook secret is never shown; the history tells what happened.
func TestAlarmLifecycle(t *testing.T) {
	s := newSetup(t)
	r := s.send("POST", "/v1/alarms", "member", instAlarm).expect(201)
	a := r.alarm()
	id, _ := a["id"].(string)
	if a["state"] != "insufficient_data" || a["project_id"] != "p-a" || a["user_id"] != "u-m" || a["target"] != "instance" ||
		a["window"] != 60.0 || strings.Contains(r.raw, "s3cret") || !strings.Contains(r.raw, `"secret_set":true`) ||
		r.hdr.Get("Location") != "http://example.com/v1/alarms/"+id {
		t.Fatalf("created: %s (Location %q)", r.raw, r.hdr.Get("Location"))
	}
	if g := s.do("GET", "/v1/alarms/"+id, "reader").expect(200); strings.Contains(g.raw, "s3cret") || g.alarm()["name"] != "busy" {
		t.Errorf("GET: %s", g.raw)
	}
	p := s.send("PATCH", "/v1/alarms/"+id, "member", `{"threshold": 90, "evaluation_periods": 2}`).expect(200).alarm()
	if p["threshold"] != 90.0 || p["evaluation_periods"] != 2.0 || p["name"] != "busy" {
		t.Errorf("PATCH: %v", p)
	}
	s.send("PATCH", "/v1/alarms/"+id, "member", `{"host": "cmp1"}`).expectError(400, "vmmon.alarm.invalid")
	s.send("PATCH", "/v1/alarms/"+id, "reader", `{"threshold": 1}`).expectError(403, "vmmon.forbidden")
	inst := s.do("GET", "/v1/instances/"+instA, "reader").expect(200)
	if as := inst.list("alarms"); len(as) != 1 || as[0].(map[string]any)["id"] != id || as[0].(map[string]any)["state"] != "insufficient_data" {
		t.Errorf("the instance's alarms: %s", inst.raw)
	}
	h := s.do("GET", "/v1/alarms/"+id+"/history", "reader").expect(200).list("history")
	// The test clock stands still: both entries have one time.
	types := map[any]bool{}
	for _, e := range h {
		types[e.(map[string]any)["type"]] = true
	}
	if len(h) != 2 || !types["rule_change"] || !types["creation"] ||
		strings.Contains(s.do("GET", "/v1/alarms/"+id+"/history", "reader").raw, "s3cret") {
		t.Errorf("history: %v", h)
	}
	s.do("DELETE", "/v1/alarms/"+id, "reader").expectError(403, "vmmon.forbidden")
	s.do("DELETE", "/v1/alarms/"+id, "member").expect(204)
	s.do("GET", "/v1/alarms/"+id, "member").expectError(404, "vmmon.alarm.not_found")
	s.do("GET", "/v1/alarms/not-a-uuid", "member").expectError(400, "vmmon.alarm.bad_id")
}

// Bad bodies are 400 with what to fix; an instance action is only for
// instance alarms; host alarms are the administrator's.
func TestAlarmValidation(t *testing.T) {
	s := newSetup(t)
	for _, c := range []struct {
		token, body string
		code        int
		errCode     string
		detail      string
	}{
		{"member", `{"name": "x"`, 400, "vmmon.alarm.invalid", "JSON object"},
		{"member", `{"name": "x", "metric": "cpu_util", "instance_id": "` + instA + `", "comparison": "gt", "threshold": 1, "window": 1}`,
			400, "vmmon.alarm.invalid", "window: expected whole seconds from 10 to 86400"},
		{"member", `{"name": "x", "metric": "cpu_util", "project_id": "p-a", "comparison": "gt", "threshold": 1,
			"actions": [{"type": "instance_action", "action": "pause"}]}`, 400, "vmmon.alarm.invalid", "only for an alarm on one instance"},
		{"member", `{"name": "x", "metric": "cpu_util", "instance_id": "` + instA + `", "comparison": "gt", "threshold": 1,
			"actions": [{"type": "instance_action", "action": "pause"}]}`, 400, "vmmon.alarm.unsupported_action", "actions[0]: this vmmon cannot act"},
		{"member", `{"name": "x", "metric": "cpu_util", "host": "cmp1", "comparison": "gt", "threshold": 1}`, 403, "vmmon.forbidden",
			"Only a cloud administrator"},
		{"member", `{"name": "x", "metric": "cpu_util", "project_id": "p-b", "comparison": "gt", "threshold": 1}`, 403, "vmmon.forbidden",
			"own project"},
		{"reader", instAlarm, 403, "vmmon.forbidden", ""},
		{"other", instAlarm, 404, "vmmon.instance.not_found", "instance_id"},
		{"system-reader", instAlarm, 403, "vmmon.forbidden.scope", "project-scoped token"},
		{"domain-admin", instAlarm, 403, "vmmon.forbidden.scope", "project-scoped token"},
		{"unscoped", instAlarm, 403, "vmmon.forbidden.scope", "project-scoped token"},
	} {
		r := s.send("POST", "/v1/alarms", c.token, c.body).expectError(c.code, c.errCode)
		if !strings.Contains(r.raw, c.detail) {
			t.Errorf("%s %s: %s; want %q", c.token, c.body, r.raw, c.detail)
		}
	}
	s.send("POST", "/v1/alarms", "admin", `{"name": "h", "metric": "host.cpu_util", "host": "cmp1", "comparison": "gt", "threshold": 1}`).expect(201)
	s.send("POST", "/v1/alarms", "member", `{"name": "p", "metric": "cpu_util", "project_id": "p-a", "comparison": "lt", "threshold": 1}`).expect(201)
}

// Another project's alarm is 404 whatever the call; a system reader reads
// every project's; domain-scoped and unscoped tokens read nothing.
func TestAlarmIsolation(t *testing.T) {
	s := newSetup(t)
	id := s.send("POST", "/v1/alarms", "member", instAlarm).expect(201).alarm()["id"].(string)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/alarms/" + id, ""}, {"GET", "/v1/alarms/" + id + "/history", ""},
		{"PATCH", "/v1/alarms/" + id, `{"threshold": 1}`}, {"DELETE", "/v1/alarms/" + id, ""},
	} {
		s.send(c.method, c.path, "other", c.body).expectError(404, "vmmon.alarm.not_found")
		for _, token := range []string{"domain-admin", "unscoped"} {
			s.send(c.method, c.path, token, c.body).expectError(403, "vmmon.forbidden.scope")
		}
	}
	if got := s.do("GET", "/v1/alarms", "other").expect(200).list("alarms"); len(got) != 0 {
		t.Errorf("another project lists %v", got)
	}
	s.do("GET", "/v1/alarms?project_id=p-a", "other").expectError(403, "vmmon.forbidden")
	s.do("GET", "/v1/alarms?all_projects=true", "member").expectError(403, "vmmon.forbidden")
	if got := s.do("GET", "/v1/alarms", "system-reader").expect(200).list("alarms"); len(got) != 1 {
		t.Errorf("system reader lists %v", got)
	}
	s.do("GET", "/v1/alarms/"+id, "system-reader").expect(200)
	s.send("PATCH", "/v1/alarms/"+id, "system-reader", `{"threshold": 1}`).expectError(403, "vmmon.forbidden.scope")
	s.do("GET", "/v1/alarms/"+id, "admin").expect(200)
	if inst := s.do("GET", "/v1/instances/"+instA, "admin").expect(200); len(inst.list("alarms")) != 1 {
		t.Errorf("admin's view of the instance: %s", inst.raw)
	}
	s.do("GET", "/v1/alarms", "domain-admin").expectError(403, "vmmon.forbidden.scope")
	s.do("GET", "/v1/alarms?bogus=1", "member").expectError(400, "vmmon.query.unknown_parameter")
}

// Alarms are paged by id; following next links visits each once.
func TestAlarmPaging(t *testing.T) {
	s := newSetup(t)
	for i := 0; i < 5; i++ {
		s.send("POST", "/v1/alarms", "member", instAlarm).expect(201)
	}
	seen := map[string]bool{}
	path := "/v1/alarms?limit=2"
	for pages := 0; path != "" && pages < 10; pages++ {
		r := s.do("GET", path, "reader").expect(200)
		for _, a := range r.list("alarms") {
			seen[a.(map[string]any)["id"].(string)] = true
		}
		path = ""
		for _, l := range r.list("alarms_links") {
			if l.(map[string]any)["rel"] == "next" {
				href := l.(map[string]any)["href"].(string)
				path = href[strings.Index(href, "/v1/"):]
			}
		}
	}
	if len(seen) != 5 {
		t.Errorf("%d distinct alarms over the pages; want 5", len(seen))
	}
	if got := s.do("GET", "/v1/alarms?instance_id="+instA2, "reader").expect(200).list("alarms"); len(got) != 0 {
		t.Errorf("alarms of another instance: %v", got)
	}
	s.do("GET", "/v1/alarms?marker=x", "reader").expectError(400, "vmmon.query.bad_marker")
}

// fakeTrusts stands for Keystone's trusts: it records what it made and
// deleted, and refuses the trustors it is told to.
type fakeTrusts struct {
	made    []trusts.Trustor
	deleted []string
	refuse  map[string]bool // user ids
	down    bool
}

func (f *fakeTrusts) Create(_ context.Context, t trusts.Trustor) (string, error) {
	if f.down {
		return "", trusts.ErrUnavailable
	}
	if f.refuse[t.UserID] {
		return "", fmt.Errorf("%w (403): application credentials cannot be used to create trusts", trusts.ErrRefused)
	}
	f.made = append(f.made, t)
	return fmt.Sprintf("trust-%d", len(f.made)), nil
}

func (f *fakeTrusts) Delete(_ context.Context, _, id string) error {
	f.deleted = append(f.deleted, id)
	return nil
}

var pauseAlarm = `{"name": "guard", "metric": "cpu_util", "instance_id": "` + instA + `", "comparison": "gt", "threshold": 90,
	"actions": [{"type": "instance_action", "action": "pause"}]}`

// An alarm with an instance action gets a trust from its creator (never
// shown), which goes when the action goes or the alarm is deleted; who
// cannot make one is told why.
func TestAlarmInstanceActionTrust(t *testing.T) {
	ft := &fakeTrusts{refuse: map[string]bool{"u-o": true}}
	s := newSetup(t, func(c *Config) { c.Trusts = ft })
	r := s.send("POST", "/v1/alarms", "member", pauseAlarm).expect(201)
	id := r.alarm()["id"].(string)
	if len(ft.made) != 1 || ft.made[0].UserID != "u-m" || ft.made[0].ProjectID != "p-a" || strings.Join(ft.made[0].Roles, ",") != "member,reader" {
		t.Fatalf("trusts made: %+v", ft.made)
	}
	if strings.Contains(r.raw, "trust-1") || strings.Contains(s.do("GET", "/v1/alarms/"+id+"/history", "member").raw, "trust-1") {
		t.Errorf("the trust id is shown: %s", r.raw)
	}
	stored, err := s.store.GetAlarm(context.Background(), id)
	if err != nil || stored.TrustID != "trust-1" {
		t.Fatalf("stored alarm: %+v, %v", stored, err)
	}
	// A change that keeps an instance action keeps the trust.
	s.send("PATCH", "/v1/alarms/"+id, "member", `{"threshold": 95}`).expect(200)
	// No instance action left: the trust goes.
	s.send("PATCH", "/v1/alarms/"+id, "member", `{"actions": [{"type": "notification"}]}`).expect(200)
	if len(ft.made) != 1 || len(ft.deleted) != 1 || ft.deleted[0] != "trust-1" {
		t.Fatalf("after dropping the action: made %d, deleted %v", len(ft.made), ft.deleted)
	}
	// One back: a new trust.
	s.send("PATCH", "/v1/alarms/"+id, "member", `{"actions": [{"type": "instance_action", "action": "reboot", "reboot_type": "HARD"}]}`).expect(200)
	s.do("DELETE", "/v1/alarms/"+id, "member").expect(204)
	if len(ft.made) != 2 || len(ft.deleted) != 2 || ft.deleted[1] != "trust-2" {
		t.Fatalf("after delete: made %d, deleted %v", len(ft.made), ft.deleted)
	}

	s.send("POST", "/v1/alarms", "reader", pauseAlarm).expectError(403, "vmmon.forbidden")
	// An administrator of another project cannot delegate this project's roles.
	s.send("POST", "/v1/alarms", "admin", pauseAlarm).expectError(400, "vmmon.alarm.trust_scope")
	otherPause := strings.Replace(pauseAlarm, instA, instB, 1)
	if r := s.send("POST", "/v1/alarms", "other", otherPause).expectError(403, "vmmon.alarm.trust_refused"); !strings.Contains(r.raw, "application credentials") {
		t.Errorf("refusal: %s", r.raw)
	}
	ft.down = true
	s.send("POST", "/v1/alarms", "member", pauseAlarm).expectError(503, "vmmon.identity_unavailable")
	if got := s.do("GET", "/v1/alarms", "member").expect(200).list("alarms"); len(got) != 0 {
		t.Errorf("refused alarms were stored: %v", got)
	}
}
