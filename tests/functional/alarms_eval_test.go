//go:build functional

package functional

import (
	"context"
	"os/exec"
	"sort"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon-agent/agent"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/storage/cassandra"
)

// alarmRig is a real agent on the bed's QEMU guest publishing to an
// exchange of the test's own, and vmmon-collector processes on a keyspace
// of the test's own that evaluate alarms.
type alarmRig struct {
	env    bedenv.Env
	store  *cassandra.Store
	bin    string
	cfg    string
	guest  string
	host   string
	agents func()
	ex     string
	opts   messaging.Options
}

func startAlarmRig(t *testing.T, interval time.Duration, extra string) *alarmRig {
	t.Helper()
	env := bedenv.Load(t)
	url := env.Get(t, "VMMON_TRANSPORT_URL")
	store := openCassandra(t)
	prefix := uniqueName(t)
	ex := prefix + "-vmmon"
	cleanup(t, url, []string{ex, prefix + "-parked.exchange"}, []string{prefix + "-agent", prefix + "-nova", prefix + "-parked"})
	opts := rabbitOptions(t, url)
	host := "bed-alarms"
	stop := runAgent(t, opts, ex, agent.Config{Host: host, LibvirtURI: env.Get(t, "VMMON_LIBVIRT_URI"), Interval: interval,
		Timeout: 5 * time.Second})
	cfg := writeConfig(t, readFile(t, collectorConfig(t, env, store.Keyspace(), ex, prefix))+
		"[alarms]\nlease_ttl = 6\nrefresh_interval = 1\n"+extra)
	return &alarmRig{env: env, store: store, bin: buildCmd(t, "vmmon/cmd/vmmon-collector"), cfg: cfg,
		guest: env.Get(t, "VMMON_GUEST_UUID"), host: host, agents: stop, ex: ex, opts: opts}
}

// collector starts one vmmon-collector, killed at the end of the test.
func (r *alarmRig) collector(t *testing.T) *exec.Cmd {
	t.Helper()
	c := collectorProcess(t, r.bin, r.cfg)
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	return c
}

// guestAlarm stores an alarm on the guest's cpu_util (as POST /v1/alarms does).
func (r *alarmRig) guestAlarm(t *testing.T, id string, threshold float64, actions ...storage.AlarmAction) storage.Alarm {
	t.Helper()
	now := time.Now().UTC()
	a := storage.Alarm{ID: id, Name: "guest-busy", ProjectID: r.env.Get(t, "VMMON_PROJECT_DEMO_ID"), UserID: "u", Metric: "cpu_util",
		InstanceID: r.guest, Aggregation: "mean", Window: 10, Comparison: "gt", Threshold: threshold, EvaluationPeriods: 1, Severity: "low",
		Enabled: true, Actions: actions, CreatedAt: now, UpdatedAt: now}
	if err := r.store.PutAlarm(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	return a
}

// setThreshold changes an alarm's threshold (as PATCH does).
func (r *alarmRig) setThreshold(t *testing.T, a *storage.Alarm, threshold float64) {
	t.Helper()
	a.Threshold, a.UpdatedAt = threshold, time.Now().UTC()
	if err := r.store.PutAlarm(context.Background(), *a); err != nil {
		t.Fatal(err)
	}
}

func (r *alarmRig) state(t *testing.T, id string) storage.AlarmState {
	t.Helper()
	st, err := r.store.GetAlarmState(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// transitions lists an alarm's recorded transitions, oldest first.
func (r *alarmRig) transitions(t *testing.T, id string) []storage.AlarmHistory {
	t.Helper()
	h, err := r.store.AlarmHistory(context.Background(), id, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []storage.AlarmHistory
	for _, e := range h {
		if e.Type == "state_transition" {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// sampleLag is how long after the latest stored guest sample before at the
// transition at was recorded.
func (r *alarmRig) sampleLag(t *testing.T, at time.Time) time.Duration {
	t.Helper()
	series, err := r.store.Measures(context.Background(), storage.MeasureQuery{InstanceID: r.guest, Metric: "cpu_util",
		Start: at.Add(-time.Minute), End: at.Add(time.Millisecond), Granularity: storage.Raw, Aggregation: "mean"})
	if err != nil || len(series) == 0 || len(series[0].Points) == 0 {
		t.Fatalf("guest samples before %s: %v %v", at, series, err)
	}
	pts := series[0].Points
	return at.Sub(pts[len(pts)-1].Time)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	raw, err := exec.Command("cat", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// The bed's QEMU guest, watched by a real agent, crosses an alarm's
// cpu_util threshold (the guest's load is steady, so the threshold moves
// below and then above it); two vmmon-collectors share the alarm shards,
// and each transition is recorded once, on the guest's timeline too,
// within an agent interval and 2 s of the sample that caused it.
func TestAlarmQEMUGuestTwoCollectors(t *testing.T) {
	const interval = 2 * time.Second
	r := startAlarmRig(t, interval, "")
	r.collector(t)
	r.collector(t)
	ctx := context.Background()
	until(t, 60*time.Second, "the guest's cpu_util stored", func() bool {
		ms, err := r.store.Metrics(ctx, r.guest)
		for _, m := range ms {
			if m.Name == "cpu_util" && m.Device == "" {
				return err == nil
			}
		}
		return false
	})
	until(t, 30*time.Second, "both collectors holding alarm shards", func() bool {
		owners, err := r.store.AlarmShardOwners(ctx)
		distinct := map[string]int{}
		for shard, o := range owners {
			if shard < storage.AlarmShards {
				distinct[o]++
			}
		}
		return err == nil && len(distinct) == 2
	})
	id := "a1a1a1a1-0000-4000-8000-00000000e001"
	a := r.guestAlarm(t, id, -1) // every cpu_util is above -1
	until(t, 30*time.Second, "the alarm firing", func() bool { return r.state(t, id).State == storage.AlarmAlarm })
	fired := r.state(t, id)
	r.setThreshold(t, &a, 1e9)
	until(t, 30*time.Second, "the alarm back to ok", func() bool { return r.state(t, id).State == storage.AlarmOK })
	time.Sleep(3 * interval) // anything repeated would show by now
	tr := r.transitions(t, id)
	if len(tr) != 2 || tr[0].Current != "alarm" || tr[0].Previous != "insufficient_data" || tr[1].Current != "ok" || tr[1].Previous != "alarm" {
		t.Fatalf("transitions %+v; want insufficient_data>alarm, alarm>ok, once each", tr)
	}
	if st := r.state(t, id); st.Version != 3 {
		t.Errorf("state version %d; want 3 (created, fired, ok)", st.Version)
	}
	evs, err := r.store.Events(ctx, storage.EventQuery{InstanceID: r.guest, Start: a.CreatedAt.Add(-time.Second)})
	n := 0
	for _, e := range evs {
		if e.Type == "alarm.state_change" {
			n++
		}
	}
	if err != nil || n != 2 {
		t.Errorf("%d alarm events on the guest's timeline (%v); want 2", n, err)
	}
	// Firing follows the sample that caused it within an interval and 2 s.
	if lag := r.sampleLag(t, fired.Time); lag > interval+2*time.Second {
		t.Errorf("fired %s after the latest sample; want at most %s", lag, interval+2*time.Second)
	} else {
		t.Logf("fired %s after the latest guest sample (value %.2f %%)", lag, *fired.Value)
	}
}
