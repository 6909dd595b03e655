package alarms

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

func TestSignature(t *testing.T) {
	// echo -n '{"a":1}' | openssl dgst -sha256 -hmac k
	if got := Signature("k", []byte(`{"a":1}`)); got != "sha256=c3a92ff9e274cdcce27a58c15a78ec6dcbbdbd0038a87e7a11baef2028fd8bff" {
		t.Errorf("signature %q", got)
	}
	if Signature("k", []byte("x")) == Signature("other", []byte("x")) || Signature("k", []byte("x")) != Signature("k", []byte("x")) {
		t.Error("the signature does not depend on the secret alone")
	}
}

func TestBackoff(t *testing.T) {
	for _, c := range []struct {
		n    int
		want time.Duration
	}{{0, 0}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {6, 32 * time.Second}, {7, time.Minute}, {40, time.Minute}} {
		if got := Backoff(c.n); got != c.want {
			t.Errorf("Backoff(%d) = %s; want %s", c.n, got, c.want)
		}
	}
}

// A webhook gets the transition as JSON, signed with its secret.
func TestWebhook(t *testing.T) {
	var (
		body []byte
		hdr  http.Header
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		hdr = r.Header.Clone()
	}))
	defer srv.Close()
	v := 91.5
	a := storage.Alarm{ID: alarmUUID, Name: "busy"}
	p := storage.PendingAction{ID: "2.0", Action: storage.AlarmAction{Type: "webhook", URL: srv.URL, Secret: "k"}, Previous: "ok",
		Current: "alarm", Reason: "high", Value: &v, Time: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), InstanceID: vm}
	x := &Actions{HTTP: srv.Client()}
	if err := x.Run(context.Background(), a, p); err != nil {
		t.Fatal(err)
	}
	want := `{"alarm_id":"` + alarmUUID + `","alarm_name":"busy","previous":"ok","current":"alarm","reason":"high","instance_id":"` + vm +
		`","value":91.5,"timestamp":"2026-11-30T12:00:00Z"}`
	if string(body) != want || hdr.Get("X-Vmmon-Signature") != Signature("k", body) || hdr.Get("X-Vmmon-Delivery") != alarmUUID+"/2.0" ||
		hdr.Get("Content-Type") != "application/json" {
		t.Errorf("webhook got %s with %v", body, hdr)
	}
	p.Action.Secret = ""
	_ = x.Run(context.Background(), a, p)
	if hdr.Get("X-Vmmon-Signature") != "" {
		t.Error("signed without a secret")
	}
	p.Action.URL = srv.URL + "/\x7f"
	if err := x.Run(context.Background(), a, p); !errors.Is(err, ErrPermanent) {
		t.Errorf("a bad URL: %v; want a permanent failure", err)
	}
}

type flaky struct {
	mu       sync.Mutex
	failures int
	calls    []string
	perm     bool
}

func (f *flaky) Run(_ context.Context, _ storage.Alarm, p storage.PendingAction) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, p.ID)
	if f.perm {
		return ErrPermanent
	}
	if f.failures > 0 {
		f.failures--
		return errors.New("refused")
	}
	return nil
}

// An action that fails is retried after its backoff and its outcome
// recorded once; one that cannot succeed is recorded as failed at once.
func TestOutboxRetries(t *testing.T) {
	for _, c := range []struct {
		name     string
		runner   *flaky
		calls    int
		outcome  string
		attempts string
	}{
		{"succeeds on the third attempt", &flaky{failures: 2}, 3, "succeeded", "attempt 3"},
		{"fails every attempt", &flaky{failures: 99}, 5, "failed", "after 5 attempt(s)"},
		{"permanent failure", &flaky{perm: true}, 1, "failed", "after 1 attempt(s)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			st := newStore(t)
			clk := &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
			putAlarm(t, st, clk.now(), func(a *storage.Alarm) { a.Actions = []storage.AlarmAction{{Type: "notification"}} })
			e := NewEngine(st, EngineConfig{Owner: "o", Actions: c.runner}, quiet)
			e.SetClock(clk.now)
			_ = e.Refresh(ctx)
			clk.advance(10 * time.Second)
			e.Ingest(ctx, batch(clk.now(), 90))
			var h []storage.AlarmHistory
			for i := 0; i < 200; i++ {
				time.Sleep(10 * time.Millisecond)
				clk.advance(10 * time.Second) // past any backoff
				e.Ingest(ctx, batch(clk.now(), 90))
				_ = e.Refresh(ctx)
				h, _ = st.AlarmHistory(ctx, alarmUUID, 0, "")
				s, _ := st.GetAlarmState(ctx, alarmUUID)
				if act := actionEntry(h); act != nil && len(s.Pending) == 0 {
					break
				}
			}
			c.runner.mu.Lock()
			calls := len(c.runner.calls)
			c.runner.mu.Unlock()
			act := actionEntry(h)
			if act == nil || act.Outcome != c.outcome || !strings.Contains(act.Detail, c.attempts) || calls != c.calls || len(h) != 2 {
				raw, _ := json.Marshal(h)
				t.Errorf("%d calls, history %s", calls, raw)
			}
			if s, _ := st.GetAlarmState(ctx, alarmUUID); len(s.Pending) != 0 {
				t.Errorf("still owed: %+v", s.Pending)
			}
		})
	}
}

func actionEntry(h []storage.AlarmHistory) *storage.AlarmHistory {
	for i := range h {
		if h[i].Type == "action" {
			return &h[i]
		}
	}
	return nil
}
