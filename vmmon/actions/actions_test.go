package actions

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/storage/embedded"
)

func TestValidate(t *testing.T) {
	ok := []Request{{Action: "start"}, {Action: "reboot"}, {Action: "reboot", Type: "hard"}, {Action: "lock", Reason: "x"}}
	for _, r := range ok {
		if err := Validate(&r); err != nil {
			t.Errorf("%+v: %v", r, err)
		}
	}
	bad := []Request{{Action: "explode"}, {Action: "reboot", Type: "GENTLE"}, {Action: "stop", Type: "HARD"}, {Action: "stop", Reason: "x"}, {}}
	for _, r := range bad {
		if err := Validate(&r); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%+v: %v", r, err)
		}
	}
}

// Nova's refusals come back with their status and message (the functional
// test sees 401, 404 and 409 from a real Nova; a 5xx and an unreachable Nova
// are only practical here); an unreachable
// Nova is ErrNovaUnavailable; the global request id and the caller's token
// reach Nova; Nova's request id is recorded.
func TestNovaAnswers(t *testing.T) {
	var gotToken, gotGlobal string
	nova := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotToken, gotGlobal = r.Header.Get("X-Auth-Token"), r.Header.Get("X-OpenStack-Request-ID")
		w.Header().Set("X-Openstack-Request-Id", "req-nova-1")
		switch {
		case strings.Contains(r.URL.Path, "locked"):
			w.WriteHeader(409)
			_, _ = w.Write([]byte(`{"conflictingRequest": {"code": 409, "message": "Instance is locked"}}`))
		case strings.Contains(r.URL.Path, "gone"):
			w.WriteHeader(404)
			_, _ = w.Write([]byte(`{"itemNotFound": {"code": 404, "message": "Instance could not be found."}}`))
		case strings.Contains(r.URL.Path, "badtoken"):
			w.WriteHeader(401)
			_, _ = w.Write([]byte(`{"error": {"code": 401, "message": "The request you have made requires authentication."}}`))
		case strings.Contains(r.URL.Path, "broken"):
			w.WriteHeader(500)
		default:
			w.WriteHeader(202)
		}
	}))
	defer nova.Close()
	st, err := embedded.Open(t.TempDir(), storage.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rn := &Runner{Store: st, Now: time.Now, Timeout: time.Minute}
	ctx := context.Background()
	inst := func(id string) storage.Instance { return storage.Instance{ID: id, ProjectID: "p"} }

	a, err := rn.Do(ctx, nova.URL, "user-token", "req-00000000-0000-4000-8000-000000000001", "u", inst("ok"), Request{Action: "stop"}, "")
	if err != nil || a.Status != "pending" || a.NovaRequestID != "req-nova-1" || gotToken != "user-token" ||
		gotGlobal != "req-00000000-0000-4000-8000-000000000001" {
		t.Errorf("accepted: %+v %v token %q global %q", a, err, gotToken, gotGlobal)
	}
	for id, want := range map[string]int{"locked": 409, "gone": 404, "badtoken": 401} {
		_, err := rn.Do(ctx, nova.URL, "t", "req-00000000-0000-4000-8000-00000000000"+string(rune('2'+len(id)%5)), "u", inst(id), Request{Action: "pause"}, "")
		var ne *NovaError
		if !errors.As(err, &ne) || ne.Status != want || ne.Message == "" {
			t.Errorf("%s: %v; want Nova's %d with its message", id, err, want)
		}
	}
	if _, err := rn.Do(ctx, nova.URL, "t", "req-x5", "u", inst("broken"), Request{Action: "pause"}, ""); !errors.Is(err, ErrNovaUnavailable) {
		t.Errorf("5xx: %v", err)
	}
	if _, err := rn.Do(ctx, "http://127.0.0.1:1/v2.1", "t", "req-x6", "u", inst("ok2"), Request{Action: "pause"}, ""); !errors.Is(err, ErrNovaUnavailable) {
		t.Errorf("unreachable: %v", err)
	}
	// A pending action without news becomes unknown after the timeout.
	rn.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if got := rn.Expire(ctx, a); got.Status != "unknown" {
		t.Errorf("expired action: %+v", got)
	}
}
