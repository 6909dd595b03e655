//go:build functional

package functional

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/alarms"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/storage"
)

// hookReceiver is a webhook endpoint that checks each call's signature
// and counts calls per delivery.
type hookReceiver struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	calls  []alarms.Payload
	per    map[string]int // by X-Vmmon-Delivery
}

func newHookReceiver(t *testing.T, secret string) (*hookReceiver, string) {
	h := &hookReceiver{t: t, secret: secret, per: map[string]int{}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv.URL + "/hook"
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if got := r.Header.Get("X-Vmmon-Signature"); got != alarms.Signature(h.secret, body) {
		h.t.Errorf("webhook signature %q does not match the body %s", got, body)
	}
	var p alarms.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		h.t.Errorf("webhook body %s: %v", body, err)
	}
	h.mu.Lock()
	h.calls = append(h.calls, p)
	h.per[r.Header.Get("X-Vmmon-Delivery")]++
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookReceiver) snapshot() ([]alarms.Payload, map[string]int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	per := map[string]int{}
	for k, v := range h.per {
		per[k] = v
	}
	return append([]alarms.Payload(nil), h.calls...), per
}

// holderPID returns the pid of the collector leasing the alarm's shard.
func (r *alarmRig) holderPID(t *testing.T, id string) int {
	t.Helper()
	owners, err := r.store.AlarmShardOwners(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(owners[storage.AlarmShard(id)], "/")
	if len(parts) != 3 {
		t.Fatalf("shard %d leased by %q", storage.AlarmShard(id), owners[storage.AlarmShard(id)])
	}
	pid, _ := strconv.Atoi(parts[1])
	return pid
}

// Across two real vmmon-collectors (real RabbitMQ, Cassandra, the QEMU
// guest's samples), a webhook receives exactly one signed call per
// transition and the bus one vmmon.alarm.state_change notification; then
// the collector evaluating the alarm is killed with SIGKILL and the other
// takes its shard over: the next transition is recorded and called once,
// the earlier ones are neither lost nor repeated.
func TestAlarmWebhookOncePerTransitionAndKill(t *testing.T) {
	r := startAlarmRig(t, 2*time.Second, "")
	hook, url := newHookReceiver(t, "s3cret")
	var (
		nmu    sync.Mutex
		notifs []alarms.Payload
	)
	nq := uniqueName(t) + "-notifications"
	cleanup(t, r.env.Get(t, "VMMON_TRANSPORT_URL"), nil, []string{nq})
	startConsumer(t, r.opts, messaging.Queue{Name: nq, Bindings: []messaging.Binding{{Exchange: messaging.Exchange{Name: r.ex},
		RoutingKeys: []string{"notifications.info"}}}}, func(_ context.Context, d messaging.Delivery) messaging.Outcome {
		m, err := messaging.Decode(d.Body)
		var p alarms.Payload
		if err == nil && m.EventType == "vmmon.alarm.state_change" && json.Unmarshal(m.Payload, &p) == nil {
			nmu.Lock()
			notifs = append(notifs, p)
			nmu.Unlock()
		} else {
			t.Errorf("notification %s: %v", d.Body, err)
		}
		return messaging.Ack
	})
	procs := map[int]interface{ Kill() error }{}
	for i := 0; i < 2; i++ {
		c := r.collector(t)
		procs[c.Process.Pid] = c.Process
	}
	ctx := context.Background()
	until(t, 60*time.Second, "both collectors holding alarm shards", func() bool {
		owners, _ := r.store.AlarmShardOwners(ctx)
		distinct := map[string]bool{}
		for shard, o := range owners {
			if shard < storage.AlarmShards {
				distinct[o] = true
			}
		}
		return len(distinct) == 2
	})
	until(t, 60*time.Second, "the guest's cpu_util stored", func() bool {
		ms, _ := r.store.Metrics(ctx, r.guest)
		return len(ms) > 0
	})
	id := "a1a1a1a1-0000-4000-8000-00000000e002"
	a := r.guestAlarm(t, id, -1, storage.AlarmAction{Type: "webhook", URL: url, Secret: "s3cret"}, storage.AlarmAction{Type: "notification"})
	settled := func(what string, want int) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			st := r.state(t, id)
			calls, _ := hook.snapshot()
			n := len(r.transitions(t, id))
			if len(st.Pending) == 0 && n == want && len(calls) >= want {
				return
			}
			if time.Now().After(deadline) {
				owners, _ := r.store.AlarmShardOwners(ctx)
				h, _ := r.store.AlarmHistory(ctx, id, 0, "")
				raw, _ := json.MarshalIndent(h, "", " ")
				t.Fatalf("%s: not within 60 s: state %+v, %d transitions, calls %+v, leases %v, history %s", what, st, n, calls, owners, raw)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	settled("the alarm firing, its webhook called", 1)
	r.setThreshold(t, &a, 1e9)
	settled("the alarm back to ok, its webhook called", 2)
	r.setThreshold(t, &a, -1)
	settled("the alarm firing again", 3)

	// Kill the collector evaluating the alarm; the other takes over.
	pid := r.holderPID(t, id)
	p, ok := procs[pid]
	if !ok {
		t.Fatalf("the alarm's shard is leased by pid %d, not one of the collectors %v", pid, procs)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = syscall.Kill(pid, 0)
	killed := time.Now()
	r.setThreshold(t, &a, 1e9)
	settled("the alarm back to ok through the other collector", 4)
	t.Logf("the transition after the kill was recorded %s after it", time.Since(killed).Round(100*time.Millisecond))
	if newPID := r.holderPID(t, id); newPID == pid {
		t.Errorf("the killed collector still holds the shard")
	}
	time.Sleep(6 * time.Second) // a repeat would show by now

	tr := r.transitions(t, id)
	want := []string{"insufficient_data>alarm", "alarm>ok", "ok>alarm", "alarm>ok"}
	var got []string
	for _, h := range tr {
		got = append(got, h.Previous+">"+h.Current)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("transitions %v; want %v", got, want)
	}
	calls, per := hook.snapshot()
	if len(calls) != 4 || len(per) != 4 {
		t.Errorf("%d webhook calls over %d deliveries; want 4 and 4: %v", len(calls), len(per), per)
	}
	for i, c := range calls {
		if i < len(want) && c.Previous+">"+c.Current != want[i] || c.AlarmID != id || c.InstanceID != r.guest || c.Value == nil {
			t.Errorf("call %d: %+v", i, c)
		}
	}
	nmu.Lock()
	n := len(notifs)
	nmu.Unlock()
	if n != 4 {
		t.Errorf("%d notifications; want 4", n)
	}
	h, _ := r.store.AlarmHistory(ctx, id, 0, "")
	outcomes := map[string]int{}
	for _, e := range h {
		if e.Type == "action" {
			outcomes[e.Outcome]++
		}
	}
	if outcomes["succeeded"] != 8 || outcomes["failed"] != 0 {
		t.Errorf("action outcomes %v; want 8 succeeded (4 webhooks, 4 notifications)", outcomes)
	}
}
