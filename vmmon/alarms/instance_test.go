package alarms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	novaactions "opendev.org/openstack/vmmon/vmmon/actions"
	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/storage/embedded"
	"opendev.org/openstack/vmmon/vmmon/trusts"
)

// trustFunc is a TrustUser of a function.
type trustFunc func(ctx context.Context, id string) (trusts.Session, error)

func (f trustFunc) Use(ctx context.Context, id string) (trusts.Session, error) { return f(ctx, id) }

// An instance action calls Nova with the trust's token and is recorded
// among the instance's actions; the same attempt made again (a restart)
// calls Nova once; Nova's refusal and a revoked trust fail for good, Nova
// out of reach is retried.
func TestInstanceActions(t *testing.T) {
	ctx := context.Background()
	st, err := embedded.Open(t.TempDir(), storage.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.PutInstance(ctx, storage.Instance{ID: vm, ProjectID: "p-1", State: "active", UpdatedAt: time.Now(), Source: "nova"}); err != nil {
		t.Fatal(err)
	}
	var calls []string
	novaStatus := http.StatusAccepted
	nova := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		calls = append(calls, fmt.Sprintf("%s %s %s %s", r.Method, r.URL.Path, r.Header.Get("X-Auth-Token"), body))
		w.Header().Set("X-Openstack-Request-Id", "req-nova")
		w.WriteHeader(novaStatus)
		if novaStatus == http.StatusConflict {
			_, _ = io.WriteString(w, `{"conflictingRequest": {"code": 409, "message": "Cannot 'pause' instance while it is in vm_state paused"}}`)
		}
	}))
	defer nova.Close()
	trustErr := error(nil)
	x := &InstanceActions{
		Trusts: trustFunc(func(_ context.Context, id string) (trusts.Session, error) {
			return trusts.Session{Token: "tok-" + id, ComputeURL: nova.URL + "/v2.1"}, trustErr
		}),
		Actions:   &novaactions.Runner{Store: st, Now: time.Now, Timeout: time.Minute},
		Instances: st,
	}
	a := storage.Alarm{ID: alarmUUID, ProjectID: "p-1", UserID: "u-1", InstanceID: vm, TrustID: "t-1"}
	p := storage.PendingAction{ID: "3.0", Action: storage.AlarmAction{Type: "instance_action", Action: "pause"}, InstanceID: vm}
	if err := x.Run(ctx, a, p); err != nil {
		t.Fatal(err)
	}
	if err := x.Run(ctx, a, p); err != nil || len(calls) != 1 {
		t.Fatalf("the same attempt again: %v; Nova called %d times", err, len(calls))
	}
	if want := "POST /v2.1/servers/" + vm + "/action tok-t-1 {\"pause\":null}"; calls[0] != want {
		t.Errorf("Nova got %q; want %q", calls[0], want)
	}
	acts, err := st.ListActions(ctx, vm)
	if err != nil || len(acts) != 1 || acts[0].Action != "pause" || acts[0].UserID != "u-1" || acts[0].Status != "pending" ||
		acts[0].NovaRequestID != "req-nova" {
		t.Fatalf("recorded actions: %+v, %v", acts, err)
	}

	novaStatus = http.StatusConflict
	p.Attempts = 1
	if err := x.Run(ctx, a, p); !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "vm_state paused") {
		t.Errorf("Nova's refusal: %v", err)
	}
	novaStatus = http.StatusServiceUnavailable
	p.Attempts = 2
	if err := x.Run(ctx, a, p); err == nil || errors.Is(err, ErrPermanent) {
		t.Errorf("Nova failing: %v; want an error to retry", err)
	}
	trustErr = fmt.Errorf("%w (404): Could not find trust: t-1", trusts.ErrInvalid)
	p.Attempts = 3
	if err := x.Run(ctx, a, p); !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "Could not find trust") {
		t.Errorf("a revoked trust: %v", err)
	}
	trustErr = trusts.ErrUnavailable
	if err := x.Run(ctx, a, p); err == nil || errors.Is(err, ErrPermanent) {
		t.Errorf("Keystone out of reach: %v; want an error to retry", err)
	}
	a.TrustID = ""
	if err := x.Run(ctx, a, p); !errors.Is(err, ErrPermanent) {
		t.Errorf("no trust: %v", err)
	}
	if len(calls) != 3 {
		t.Errorf("Nova called %d times; want 3", len(calls))
	}
}
