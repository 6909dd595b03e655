package alarms

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/storage/embedded"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const (
	alarmUUID = "a1a1a1a1-0000-4000-8000-000000000001"
	vm        = "5b6f8a8e-7c1d-4e0a-9f3b-0000000000b1"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newStore(t *testing.T) *embedded.Store {
	t.Helper()
	st, err := embedded.Open(t.TempDir(), storage.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func putAlarm(t *testing.T, st storage.Store, at time.Time, mutate ...func(*storage.Alarm)) {
	t.Helper()
	a := storage.Alarm{ID: alarmUUID, Name: "busy", ProjectID: "p", Metric: "cpu_util", InstanceID: vm, Aggregation: "mean", Window: 30,
		Comparison: "gt", Threshold: 50, EvaluationPeriods: 1, Severity: "low", Enabled: true, CreatedAt: at, UpdatedAt: at,
		Actions: []storage.AlarmAction{{Type: "notification"}, {Type: "instance_action", Action: "pause"}}}
	for _, m := range mutate {
		m(&a)
	}
	if err := st.PutAlarm(context.Background(), a); err != nil {
		t.Fatal(err)
	}
}

func batch(at time.Time, v float64) agentmsg.Batch {
	return agentmsg.Batch{Host: "cmp1", Time: at, Instances: []agentmsg.Instance{{UUID: vm, Time: at, Nova: &agentmsg.Nova{ProjectID: "p"},
		Metrics: []agentmsg.Metric{{Name: "cpu_util", Value: v}, {Name: "cpu_util", Device: "vcpu0", Value: 0}}}}}
}

func engine(st Store, c *clock, owner string) *Engine {
	e := NewEngine(st, EngineConfig{Owner: owner, LeaseTTL: time.Minute}, quiet)
	e.SetClock(c.now)
	return e
}

func transitions(t *testing.T, st storage.Store) []string {
	t.Helper()
	h, err := st.AlarmHistory(context.Background(), alarmUUID, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Type == "state_transition" {
			out = append(out, h[i].Previous+">"+h[i].Current)
		}
	}
	return out
}

// Samples above the threshold fire the alarm, below return it to ok, and
// none for a window make it insufficient_data; each transition is in the
// history and on the instance's timeline once, with its actions owed
// (pause only when it fires).
func TestEngineTransitions(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	c := &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	putAlarm(t, st, c.now())
	e := engine(st, c, "a")
	if err := e.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	feed := func(vals ...float64) {
		for _, v := range vals {
			c.advance(10 * time.Second)
			e.Ingest(ctx, batch(c.now(), v))
		}
	}
	feed(90, 90)
	s, _ := st.GetAlarmState(ctx, alarmUUID)
	if s.State != storage.AlarmAlarm || s.Version != 2 || len(s.Pending) != 2 || *s.Value != 90 {
		t.Fatalf("after high samples: %+v", s)
	}
	feed(10, 10, 10, 10)
	feed() // nothing more: a refresh 40 s later finds no data
	c.advance(40 * time.Second)
	if err := e.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	got := transitions(t, st)
	want := []string{"insufficient_data>alarm", "alarm>ok", "ok>insufficient_data"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("transitions %v; want %v", got, want)
	}
	s, _ = st.GetAlarmState(ctx, alarmUUID)
	// notification ×3, pause ×1 (on firing only).
	if s.Version != 4 || len(s.Pending) != 4 {
		t.Errorf("final state: %+v", s)
	}
	evs, _ := st.Events(ctx, storage.EventQuery{InstanceID: vm})
	if len(evs) != 3 || evs[0].Type != "alarm.state_change" || evs[0].Source != "vmmon" {
		t.Errorf("timeline: %+v", evs)
	}
}

// Two evaluators of one alarm (as while a lease passes from one collector
// to another) see the same samples; each transition is recorded once.
func TestEngineTwoEvaluatorsRecordOnce(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	c := &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	putAlarm(t, st, c.now())
	a, b := engine(st, c, "same"), engine(st, c, "same")
	for _, e := range []*Engine{a, b} {
		if err := e.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i, v := range []float64{90, 90, 10, 10, 10, 90, 90, 90} {
		c.advance(10 * time.Second)
		bt := batch(c.now(), v)
		for _, e := range []*Engine{a, b} {
			wg.Add(1)
			go func() { defer wg.Done(); e.Ingest(ctx, bt) }()
		}
		wg.Wait()
		_ = i
	}
	got := transitions(t, st)
	if len(got) != 3 {
		t.Errorf("transitions %v; want 3, each once", got)
	}
	s, _ := st.GetAlarmState(ctx, alarmUUID)
	if s.Version != 4 || s.State != storage.AlarmAlarm {
		t.Errorf("state %+v", s)
	}
}

// A new evaluator (after a restart) reads the state and the window from
// storage: the same data repeats no transition; the next change is recorded.
func TestEngineRestartRepeatsNothing(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	c := &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	putAlarm(t, st, c.now())
	first := engine(st, c, "first")
	_ = first.Refresh(ctx)
	var samples []storage.Sample
	for i := 0; i < 3; i++ {
		c.advance(10 * time.Second)
		first.Ingest(ctx, batch(c.now(), 90))
		samples = append(samples, storage.Sample{InstanceID: vm, Metric: "cpu_util", Time: c.now(), Value: 90, ProjectID: "p", Host: "cmp1"})
	}
	if err := st.WriteSamples(ctx, samples); err != nil {
		t.Fatal(err)
	}
	_ = st.ReleaseAlarmShard(ctx, storage.AlarmShard(alarmUUID), "first") // as if its lease expired
	second := engine(st, c, "second")
	if err := second.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	c.advance(5 * time.Second)
	if err := second.Refresh(ctx); err != nil { // judged from the refilled window
		t.Fatal(err)
	}
	if got := transitions(t, st); len(got) != 1 {
		t.Errorf("after the restart: %v; want the one transition", got)
	}
	c.advance(5 * time.Second)
	second.Ingest(ctx, batch(c.now(), 0))
	c.advance(10 * time.Second)
	second.Ingest(ctx, batch(c.now(), 0))
	c.advance(10 * time.Second)
	second.Ingest(ctx, batch(c.now(), 0))
	if got := transitions(t, st); len(got) != 2 || got[1] != "alarm>ok" {
		t.Errorf("transitions %v", got)
	}
}

// Engines share the shards: a second one gets half of them, and a
// stopped one's shards go to the other.
func TestEngineSharesShards(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	c := &clock{t: time.Now()}
	a, b := engine(st, c, "a"), engine(st, c, "b")
	_ = a.Refresh(ctx)
	if a.Held() != storage.AlarmShards {
		t.Fatalf("alone, a holds %d shards", a.Held())
	}
	for i := 0; i < 3; i++ {
		_ = b.Refresh(ctx)
		_ = a.Refresh(ctx)
	}
	if a.Held() != storage.AlarmShards/2 || b.Held() != storage.AlarmShards/2 {
		t.Errorf("a holds %d, b %d", a.Held(), b.Held())
	}
	a.releaseAll()
	_ = b.Refresh(ctx)
	if b.Held() != storage.AlarmShards {
		t.Errorf("after a stopped, b holds %d", b.Held())
	}
}

// BenchmarkIngest evaluates one agent batch (100 instances × 20 metrics)
// against 10,000 alarms in memory (5 per series, none changing state): the
// evaluation's own CPU per batch, storage aside.
//
//	go test -run '^$' -bench Ingest ./vmmon/alarms/
func BenchmarkIngest(b *testing.B) {
	e := NewEngine(nil, EngineConfig{Owner: "bench"}, quiet)
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	e.SetClock(func() time.Time { return at })
	inst := func(k int) string { return fmt.Sprintf("be0c0000-0000-4000-8000-%012d", k) }
	for i := 0; i < 10000; i++ {
		a := storage.Alarm{ID: fmt.Sprintf("be0a0000-0000-4000-8000-%012d", i), ProjectID: "p", Metric: fmt.Sprintf("metric.%02d", (i/500)%20),
			InstanceID: inst((i / 5) % 100), Aggregation: "mean", Window: 60, Comparison: "gt", Threshold: 1e9, EvaluationPeriods: 1, Enabled: true}
		w := &watch{alarm: a, state: storage.AlarmState{AlarmID: a.ID, State: storage.AlarmOK, Version: 2}}
		e.watches[a.ID] = w
		e.index[watchKey(a)] = append(e.index[watchKey(a)], w)
	}
	mk := func(t time.Time) agentmsg.Batch {
		bt := agentmsg.Batch{Host: "bench", Time: t}
		for k := 0; k < 100; k++ {
			in := agentmsg.Instance{UUID: inst(k), Time: t, Nova: &agentmsg.Nova{ProjectID: "p"}}
			for m := 0; m < 20; m++ {
				in.Metrics = append(in.Metrics, agentmsg.Metric{Name: fmt.Sprintf("metric.%02d", m), Value: 1})
			}
			bt.Instances = append(bt.Instances, in)
		}
		return bt
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		at = at.Add(10 * time.Second)
		e.Ingest(ctx, mk(at))
	}
}
