package actions

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/storage/embedded"
)

// newRunner is a runner on an embedded store of the test's own.
func newRunner(t *testing.T) *Runner {
	t.Helper()
	st, err := embedded.Open(t.TempDir(), storage.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &Runner{Store: st, Now: time.Now, Timeout: time.Minute}
}

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
	rn := newRunner(t)
	ctx := context.Background()
	inst := func(id string) storage.Instance { return storage.Instance{ID: id, ProjectID: "p"} }

	a, err := rn.Do(ctx, Origin{ComputeURL: nova.URL, Token: "user-token", RequestID: "req-00000000-0000-4000-8000-000000000001", UserID: "u", ProjectID: "p"}, inst("ok"), Request{Action: "stop"}, "")
	if err != nil || a.Status != "pending" || a.NovaRequestID != "req-nova-1" || gotToken != "user-token" ||
		gotGlobal != "req-00000000-0000-4000-8000-000000000001" {
		t.Errorf("accepted: %+v %v token %q global %q", a, err, gotToken, gotGlobal)
	}
	for id, want := range map[string]int{"locked": 409, "gone": 404, "badtoken": 401} {
		_, err := rn.Do(ctx, Origin{ComputeURL: nova.URL, Token: "t", RequestID: "req-00000000-0000-4000-8000-00000000000" + string(rune('2'+len(id)%5)), UserID: "u", ProjectID: "p"}, inst(id), Request{Action: "pause"}, "")
		var ne *NovaError
		if !errors.As(err, &ne) || ne.Status != want || ne.Message == "" {
			t.Errorf("%s: %v; want Nova's %d with its message", id, err, want)
		}
	}
	if _, err := rn.Do(ctx, Origin{ComputeURL: nova.URL, Token: "t", RequestID: "req-x5", UserID: "u", ProjectID: "p"}, inst("broken"), Request{Action: "pause"}, ""); !errors.Is(err, ErrNovaUnavailable) {
		t.Errorf("5xx: %v", err)
	}
	if _, err := rn.Do(ctx, Origin{ComputeURL: "http://127.0.0.1:1/v2.1", Token: "t", RequestID: "req-x6", UserID: "u", ProjectID: "p"}, inst("ok2"), Request{Action: "pause"}, ""); !errors.Is(err, ErrNovaUnavailable) {
		t.Errorf("unreachable: %v", err)
	}
	// A pending action without news becomes unknown after the timeout.
	rn.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if got := rn.Expire(ctx, a); got.Status != "unknown" {
		t.Errorf("expired action: %+v", got)
	}
}

// Idempotency keys belong to (project, user, instance): the same key from
// the same caller returns the first action; from another project, user or
// on another instance it is a new action; with another body it is refused;
// a key too long or with spaces is refused before anything is stored.
func TestIdempotencyKeys(t *testing.T) {
	calls := 0
	nova := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls++; w.WriteHeader(202) }))
	defer nova.Close()
	rn := newRunner(t)
	ctx := context.Background()
	n := 0
	origin := func(project, user string) Origin {
		n++
		return Origin{ComputeURL: nova.URL, Token: "t", RequestID: fmt.Sprintf("req-00000000-0000-4000-8000-%012d", n), UserID: user, ProjectID: project}
	}
	instA := storage.Instance{ID: "i-a", ProjectID: "pa"}
	first, err := rn.Do(ctx, origin("pa", "ua"), instA, Request{Action: "stop"}, "key-1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := rn.Do(ctx, origin("pa", "ua"), instA, Request{Action: "stop"}, "key-1")
	if !errors.Is(err, storage.ErrConflict) || again.ID != first.ID {
		t.Errorf("same caller, same key: %+v %v; want the first action", again, err)
	}
	if _, err := rn.Do(ctx, origin("pa", "ua"), instA, Request{Action: "pause"}, "key-1"); !errors.Is(err, ErrKeyReused) {
		t.Errorf("same key, other body: %v; want ErrKeyReused", err)
	}
	for name, o := range map[string]Origin{"other project": origin("pb", "ua"), "other user": origin("pa", "ub")} {
		got, err := rn.Do(ctx, o, instA, Request{Action: "stop"}, "key-1")
		if err != nil || got.ID == first.ID || got.UserID != o.UserID {
			t.Errorf("%s: %+v %v; want an action of its own", name, got, err)
		}
	}
	got, err := rn.Do(ctx, origin("pa", "ua"), storage.Instance{ID: "i-b", ProjectID: "pa"}, Request{Action: "stop"}, "key-1")
	if err != nil || got.ID == first.ID {
		t.Errorf("other instance: %+v %v", got, err)
	}
	if calls != 4 {
		t.Errorf("Nova called %d times; want 4 (the repeat and the refused one not)", calls)
	}
	for _, key := range []string{strings.Repeat("k", MaxKeyLength+1), "has space", "tab\t", "é"} {
		if _, err := rn.Do(ctx, origin("pa", "ua"), instA, Request{Action: "stop"}, key); !errors.Is(err, ErrBadKey) {
			t.Errorf("key %q: %v; want ErrBadKey", key, err)
		}
	}
	if calls != 4 {
		t.Errorf("Nova called for a refused key")
	}
}
