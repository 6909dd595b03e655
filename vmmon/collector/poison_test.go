package collector

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/storage"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func agentBody(t *testing.T, object string, eventType string, data any) []byte {
	t.Helper()
	payload, err := agentmsg.Wrap(object, data)
	if err != nil {
		t.Fatal(err)
	}
	body, err := messaging.Encode(&messaging.Message{MessageID: messaging.NewUUID(), PublisherID: "vmmon-agent:cmp1",
		EventType: eventType, Priority: "INFO", Timestamp: now, Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// Validation of single fields, value by value.
func TestFieldChecks(t *testing.T) {
	l := DefaultLimits
	for _, c := range []struct {
		what   string
		check  *invalid
		reason string // "" if valid
	}{
		{"uuid lower", func() *invalid { _, v := checkUUID("uuid", "0a0a0a0a-0000-4000-8000-00000000000f"); return v }(), ""},
		{"uuid upper", func() *invalid { _, v := checkUUID("uuid", "0A0A0A0A-0000-4000-8000-00000000000F"); return v }(), ""},
		{"uuid path", func() *invalid { _, v := checkUUID("uuid", "../../etc/passwd"); return v }(), reasonUUID},
		{"uuid empty", func() *invalid { _, v := checkUUID("uuid", ""); return v }(), reasonUUID},
		{"uuid no dashes", func() *invalid { _, v := checkUUID("uuid", "0a0a0a0a00004000800000000000000f"); return v }(), reasonUUID},
		{"uuid braces", func() *invalid { _, v := checkUUID("uuid", "{0a0a0a0a-0000-4000-8000-00000000000}"); return v }(), reasonUUID},
		{"uuid not hex", func() *invalid { _, v := checkUUID("uuid", "bench000-0000-4000-8000-000000000001"); return v }(), reasonUUID},
		{"name", checkName("host", "cmp-1.example.org"), ""},
		{"name empty", checkName("host", ""), reasonName},
		{"name 255", checkName("metric", strings.Repeat("m", 255)), ""},
		{"name 256", checkName("metric", strings.Repeat("m", 256)), reasonName},
		{"name 70000", checkName("metric", strings.Repeat("m", 70000)), reasonName},
		{"name space", checkName("device", "v da"), reasonName},
		{"name slash", checkName("device", "../vda"), reasonName},
		{"name NUL", checkName("metric", "cpu\x00util"), reasonName},
		{"name UTF-8", checkName("host", "hôte"), reasonName},
		{"optional empty", checkOptionalName("device", ""), ""},
		{"text", checkText("name", "web server ünïcode", MaxTextBytes), ""},
		{"text control", checkText("name", "a\nb", MaxTextBytes), reasonText},
		{"text long", checkText("name", strings.Repeat("x", MaxTextBytes+1), MaxTextBytes), reasonText},
		{"text not UTF-8", checkText("name", "\xff", MaxTextBytes), reasonText},
		{"value", checkValue("value", -12.5), ""},
		{"value NaN", checkValue("value", math.NaN()), reasonValue},
		{"value +Inf", checkValue("value", math.Inf(1)), reasonValue},
		{"value -Inf", checkValue("value", math.Inf(-1)), reasonValue},
		{"value huge", checkValue("value", 1e308), reasonValue},
		{"count negative", checkCount("vcpus", -1), reasonValue},
		{"time now", l.checkTime("t", now, now), ""},
		{"time zero", l.checkTime("t", time.Time{}, now), reasonTime},
		{"time 6 days old", l.checkTime("t", now.Add(-6*24*time.Hour), now), ""},
		{"time 8 days old", l.checkTime("t", now.Add(-8*24*time.Hour), now), reasonTooOld},
		{"time 1970", l.checkTime("t", time.Unix(0, 0), now), reasonTooOld},
		{"time 5 minutes ahead", l.checkTime("t", now.Add(5*time.Minute), now), ""},
		{"time 2 hours ahead", l.checkTime("t", now.Add(2*time.Hour), now), reasonTooNew},
		{"ip v4", checkIP("ip", "10.0.0.1"), ""},
		{"ip v6", checkIP("ip", "2001:db8::1"), ""},
		{"ip garbage", checkIP("ip", "10.0.0.1; rm -rf"), reasonText},
	} {
		got := ""
		if c.check != nil {
			got = c.check.reason
		}
		if got != c.reason {
			t.Errorf("%s: reason %q (%v); want %q", c.what, got, c.check, c.reason)
		}
	}
	if u, _ := canonicalUUID("0A0A0A0A-0000-4000-8000-00000000000F"); u != "0a0a0a0a-0000-4000-8000-00000000000f" {
		t.Errorf("canonical form %q", u)
	}
}

func goodBatch(seq uint64, uuids ...string) agentmsg.Batch {
	b := agentmsg.Batch{Host: "cmp1", Stream: "s1", Seq: seq, Time: now, Interval: 10}
	for _, u := range uuids {
		b.Instances = append(b.Instances, agentmsg.Instance{UUID: u, Name: "instance-1", State: "running", Time: now,
			Nova: &agentmsg.Nova{Name: "web-1", ProjectID: "proj-a", UserID: "u", Flavor: agentmsg.Flavor{Name: "m1.small", VCPUs: 2},
				Ports: []agentmsg.Port{{ID: "p", IPs: []string{"10.0.0.5"}}}},
			Metrics: []agentmsg.Metric{{Name: "cpu_util", Value: 12.5, Unit: "%", Kind: agentmsg.Rate},
				{Name: "disk.device.read.bytes", Device: "vda", Value: 1000, Unit: "B", Kind: agentmsg.Cumulative}}})
	}
	return b
}

// Every kind of poison in an agent's message is parked once with its reason
// and nothing of it is stored; the collector goes on.
func TestAgentPoisonIsParked(t *testing.T) {
	evil := "../../etc/passwd"
	batch := func(change func(b *agentmsg.Batch)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			b := goodBatch(1, testUUID)
			change(&b)
			return batchBody(t, b)
		}
	}
	for _, c := range []struct {
		name   string
		key    string
		body   func(t *testing.T) []byte
		reason string
	}{
		{"path as uuid", "samples.cmp1", func(t *testing.T) []byte {
			return batchBody(t, goodBatch(1, evil))
		}, reasonUUID},
		{"empty uuid", "samples.cmp1", func(t *testing.T) []byte { return batchBody(t, goodBatch(1, "")) }, reasonUUID},
		{"metric name beyond key limits", "samples.cmp1", batch(func(b *agentmsg.Batch) {
			for i := range b.Instances[0].Metrics {
				b.Instances[0].Metrics[i].Name = strings.Repeat("m", 70000)
			}
		}), reasonName},
		{"device with a slash", "samples.cmp1", batch(func(b *agentmsg.Batch) {
			b.Instances[0].Metrics = b.Instances[0].Metrics[1:]
			b.Instances[0].Metrics[0].Device = "../../vda"
		}), reasonName},
		{"values beyond float range", "samples.cmp1", batch(func(b *agentmsg.Batch) {
			for i := range b.Instances[0].Metrics {
				b.Instances[0].Metrics[i].Value = -1.7e308
			}
		}), reasonValue},
		{"NaN on the wire", "samples.cmp1", func(t *testing.T) []byte {
			body := string(batchBody(t, goodBatch(1, testUUID)))
			return []byte(strings.Replace(body, `\"value\":12.5`, `\"value\":NaN`, 1))
		}, reasonUndecodable},
		{"samples a year old", "samples.cmp1", batch(func(b *agentmsg.Batch) { b.Instances[0].Time = now.AddDate(-1, 0, 0) }), reasonTooOld},
		{"samples a day ahead", "samples.cmp1", batch(func(b *agentmsg.Batch) { b.Instances[0].Time = now.Add(24 * time.Hour) }), reasonTooNew},
		{"batch from year 1", "samples.cmp1", batch(func(b *agentmsg.Batch) { b.Time = time.Time{} }), reasonTime},
		{"empty host", "samples.cmp1", batch(func(b *agentmsg.Batch) { b.Host = "" }), reasonName},
		{"host beyond key limits", "samples.cmp1", batch(func(b *agentmsg.Batch) { b.Host = strings.Repeat("h", 300) }), reasonName},
		{"no stream", "samples.cmp1", batch(func(b *agentmsg.Batch) { b.Stream = "" }), reasonName},
		{"sequence 0", "samples.cmp1", func(t *testing.T) []byte { return batchBody(t, goodBatch(0, testUUID)) }, reasonValue},
		{"sequence beyond int64", "samples.cmp1", func(t *testing.T) []byte { return batchBody(t, goodBatch(math.MaxUint64, testUUID)) }, reasonValue},
		{"project id with spaces", "samples.cmp1", batch(func(b *agentmsg.Batch) { b.Instances[0].Nova.ProjectID = "a project" }), reasonName},
		{"domain name with a newline", "samples.cmp1", batch(func(b *agentmsg.Batch) { b.Instances[0].Name = "instance\n-1" }), reasonText},
		{"address not an IP", "samples.cmp1", batch(func(b *agentmsg.Batch) { b.Instances[0].Nova.Ports[0].IPs = []string{"<script>"} }), reasonText},
		{"heartbeat without time", "heartbeat.cmp1", func(t *testing.T) []byte {
			return agentBody(t, agentmsg.ObjectHeartbeat, agentmsg.EventHeartbeat, agentmsg.Heartbeat{Host: "cmp1", Interval: 10})
		}, reasonTime},
		{"heartbeat of an empty host", "heartbeat.cmp1", func(t *testing.T) []byte {
			return agentBody(t, agentmsg.ObjectHeartbeat, agentmsg.EventHeartbeat, agentmsg.Heartbeat{Time: now, Interval: 10})
		}, reasonName},
		{"heartbeat interval of a year", "heartbeat.cmp1", func(t *testing.T) []byte {
			return agentBody(t, agentmsg.ObjectHeartbeat, agentmsg.EventHeartbeat, agentmsg.Heartbeat{Host: "cmp1", Time: now, Interval: 3e7})
		}, reasonValue},
		{"event of a path", "events.cmp1", func(t *testing.T) []byte {
			return agentBody(t, agentmsg.ObjectEvent, agentmsg.EventLifecycle, agentmsg.Event{Host: "cmp1", UUID: evil, Event: "started", Time: now})
		}, reasonUUID},
		{"event from the future", "events.cmp1", func(t *testing.T) []byte {
			return agentBody(t, agentmsg.ObjectEvent, agentmsg.EventLifecycle, agentmsg.Event{Host: "cmp1", UUID: testUUID, Event: "started",
				Time: now.AddDate(1, 0, 0)})
		}, reasonTooNew},
		{"unknown routing key", "bogus.cmp1", func(t *testing.T) []byte { return batchBody(t, goodBatch(1, testUUID)) }, reasonRoutingKey},
		{"newer major version", "samples.cmp1", func(t *testing.T) []byte {
			return []byte(strings.Replace(string(batchBody(t, goodBatch(1, testUUID))), `\"vmmon_object.version\":\"1.0\"`,
				`\"vmmon_object.version\":\"2.0\"`, 1))
		}, reasonVersion},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			col := atTime(New(s, nil), now)
			if out := col.HandleAgent(ctx, messaging.Delivery{RoutingKey: c.key, Body: c.body(t)}); out != messaging.Reject {
				t.Fatalf("outcome %v; want Reject", out)
			}
			if n := testutil.ToFloat64(col.m.parked.WithLabelValues(queueAgent, c.reason)); n != 1 {
				t.Errorf("parked with reason %s: %v; want 1", c.reason, n)
			}
			if st := col.Stats(); st.Parked != 1 || st.StorageRetries != 0 || st.Samples != 0 {
				t.Errorf("stats %+v", st)
			}
			if list, _ := s.ListInstances(ctx, storage.InstanceQuery{}); len(list) != 0 {
				t.Errorf("instances stored: %+v", list)
			}
			if _, err := s.GetHost(ctx, "cmp1"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("host recorded: %v", err)
			}
			// Still working: a good batch is stored.
			if out := col.HandleAgent(ctx, messaging.Delivery{RoutingKey: "samples.cmp1", Body: batchBody(t, goodBatch(2, testUUID))}); out != messaging.Ack {
				t.Errorf("good batch after the poison: %v", out)
			}
		})
	}
}

// A Nova notification that fails validation is parked, never stored.
func TestNovaPoisonIsParked(t *testing.T) {
	base := loadSample(t, filepath.Join("testdata", "instance-create-end.json"))
	data := func(s map[string]any) map[string]any {
		return s["payload"].(map[string]any)["nova_object.data"].(map[string]any)
	}
	for _, c := range []struct {
		name   string
		change func(s map[string]any)
		at     time.Time
		reason string
	}{
		{"path as uuid", func(s map[string]any) { data(s)["uuid"] = "../../etc/passwd" }, now, reasonUUID},
		{"empty uuid", func(s map[string]any) { data(s)["uuid"] = "" }, now, reasonUUID},
		{"no uuid", func(s map[string]any) { delete(data(s), "uuid") }, now, reasonUUID},
		{"host beyond key limits", func(s map[string]any) { data(s)["host"] = strings.Repeat("h", 70000) }, now, reasonName},
		{"project id with a slash", func(s map[string]any) { data(s)["tenant_id"] = "a/b" }, now, reasonName},
		{"display name too long", func(s map[string]any) { data(s)["display_name"] = strings.Repeat("n", 5000) }, now, reasonText},
		{"a day ahead", func(map[string]any) {}, now.Add(24 * time.Hour), reasonTooNew},
		{"a year old", func(map[string]any) {}, now.AddDate(-1, 0, 0), reasonTooOld},
		{"legacy without instance id", func(s map[string]any) {
			s["event_type"] = "compute.instance.create.end"
			s["payload"] = map[string]any{"tenant_id": "p", "host": "cmp1", "state": "active"}
		}, now, reasonUUID},
	} {
		t.Run(c.name, func(t *testing.T) {
			sample := loadSample(t, filepath.Join("testdata", "instance-create-end.json"))
			c.change(sample)
			s := newStore(t)
			col := atTime(New(s, nil), now)
			if out := col.HandleNova(ctx, messaging.Delivery{Body: envelope(t, sample, c.at, "req")}); out != messaging.Reject {
				t.Fatalf("outcome %v; want Reject", out)
			}
			if n := testutil.ToFloat64(col.m.parked.WithLabelValues(queueNova, c.reason)); n != 1 {
				t.Errorf("parked with reason %s: %v; want 1", c.reason, n)
			}
			if list, _ := s.ListInstances(ctx, storage.InstanceQuery{}); len(list) != 0 {
				t.Errorf("instances stored: %+v", list)
			}
		})
	}
	// The sample itself is fine; a fault beyond 4 KiB is clipped, not refused.
	fault := loadSample(t, filepath.Join("testdata", "instance-create-error.json"))
	data(fault)["fault"].(map[string]any)["nova_object.data"].(map[string]any)["exception_message"] = strings.Repeat("é", 10000)
	s := newStore(t)
	col := atTime(New(s, nil), now)
	for _, sample := range []map[string]any{base, fault} {
		if out := col.HandleNova(ctx, messaging.Delivery{Body: envelope(t, sample, now, "req")}); out != messaging.Ack {
			t.Errorf("%s: %v", sample["event_type"], out)
		}
	}
	evs, _ := s.Events(ctx, storage.EventQuery{InstanceID: data(fault)["uuid"].(string)})
	for _, e := range evs {
		if len(e.Fault) > MaxFaultBytes {
			t.Errorf("fault of %d bytes stored", len(e.Fault))
		}
	}
}

// A batch where only some instances or metrics are bad: the good ones are
// stored, the bad ones dropped and counted, the batch acknowledged and its
// sequence number recorded. A batch with nothing good is parked.
func TestPartlyInvalidBatch(t *testing.T) {
	s := newStore(t)
	col := atTime(New(s, nil), now)
	good, upper, other := testUUID, "0A0A0A0A-0000-4000-8000-0000000000AB", "0a0a0a0a-0000-4000-8000-000000000003"
	b := goodBatch(1, good, "../../etc/passwd", upper, other)
	b.Instances[2].Metrics[1].Value = math.MaxFloat64                         // dropped, cpu_util kept
	b.Instances[3].Metrics[0].Name = "cpu util"                               // dropped
	b.Instances[3].Metrics[1].Device = strings.Repeat("d", 300)               // dropped: instance 3 keeps no metric
	b.Instances = append(b.Instances, agentmsg.Instance{UUID: "", Time: now}) // dropped
	if out := col.HandleAgent(ctx, messaging.Delivery{RoutingKey: "samples.cmp1", Body: batchBody(t, b)}); out != messaging.Ack {
		t.Fatalf("outcome %v", out)
	}
	ids := map[string]bool{}
	list, _ := s.ListInstances(ctx, storage.InstanceQuery{})
	for _, in := range list {
		ids[in.ID] = true
	}
	if len(ids) != 3 || !ids[good] || !ids[strings.ToLower(upper)] || !ids[other] {
		t.Errorf("instances stored: %v", ids)
	}
	ms, _ := s.Metrics(ctx, strings.ToLower(upper))
	if len(ms) != 1 || ms[0].Name != "cpu_util" {
		t.Errorf("metrics of the instance with one bad metric: %+v", ms)
	}
	if ms, _ := s.Metrics(ctx, good); len(ms) != 2 {
		t.Errorf("metrics of the good instance: %+v", ms)
	}
	st := col.Stats()
	if st.Dropped != 5 || st.Samples != 3 || st.Batches != 1 || st.Parked != 0 {
		t.Errorf("stats %+v; want 5 dropped, 3 samples", st)
	}
	for _, c := range []struct {
		item, reason string
		n            float64
	}{{"instance", reasonUUID, 2}, {"metric", reasonValue, 1}, {"metric", reasonName, 2}} {
		if n := testutil.ToFloat64(col.m.dropped.WithLabelValues(c.item, c.reason)); n != c.n {
			t.Errorf("dropped %s/%s: %v; want %v", c.item, c.reason, n, c.n)
		}
	}
	if h, _ := s.GetHost(ctx, "cmp1"); h.LastSeq != 1 {
		t.Errorf("host %+v", h)
	}
	// Nothing usable: every instance bad, or every metric bad.
	allBad := goodBatch(2, "x", "y")
	allMetricsBad := goodBatch(3, good)
	for i := range allMetricsBad.Instances[0].Metrics {
		allMetricsBad.Instances[0].Metrics[i].Kind = ""
	}
	for _, b := range []agentmsg.Batch{allBad, allMetricsBad} {
		if out := col.HandleAgent(ctx, messaging.Delivery{RoutingKey: "samples.cmp1", Body: batchBody(t, b)}); out != messaging.Reject {
			t.Errorf("batch %d with nothing valid: %v", b.Seq, out)
		}
	}
	if h, _ := s.GetHost(ctx, "cmp1"); h.LastSeq != 1 {
		t.Errorf("parked batches recorded: %+v", h)
	}
	// An empty batch (a host without instances) is fine.
	if out := col.HandleAgent(ctx, messaging.Delivery{RoutingKey: "samples.cmp1", Body: batchBody(t, goodBatch(4))}); out != messaging.Ack {
		t.Errorf("empty batch: %v", out)
	}
}

// A panic while handling a message parks it (counted as such) and the
// collector handles the next one.
func TestPanicParksTheMessage(t *testing.T) {
	ps := &flakyStore{Store: newStore(t), panics: true}
	ps.failures.Store(2)
	col := atTime(New(ps, nil), now)
	for i, want := range []messaging.Outcome{messaging.Reject, messaging.Reject, messaging.Ack} {
		if out := col.HandleAgent(ctx, messaging.Delivery{RoutingKey: "samples.cmp1", Body: batchBody(t, goodBatch(uint64(i+1), testUUID))}); out != want {
			t.Errorf("delivery %d: %v; want %v", i, out, want)
		}
	}
	if st := col.Stats(); st.Panics != 2 || st.Parked != 2 || st.Batches != 1 {
		t.Errorf("stats %+v", st)
	}
	if n := testutil.ToFloat64(col.m.parked.WithLabelValues(queueAgent, reasonPanic)); n != 2 {
		t.Errorf("parked for panics: %v", n)
	}
}

// cqlError is an error as gocql reports the server's answer.
type cqlError struct {
	code int
	msg  string
}

func (e cqlError) Error() string   { return e.msg }
func (e cqlError) Code() int       { return e.code }
func (e cqlError) Message() string { return e.msg }

// A write storage refuses for what it holds is parked after one try; an
// outage, or a table not there yet, is retried until shutdown.
func TestStorageRefusalIsNotRetried(t *testing.T) {
	for _, c := range []struct {
		name    string
		err     error
		want    messaging.Outcome
		retried bool
		reason  string
	}{
		{"key too large", cqlError{cqlInvalid, "Key length of 70000 is longer than maximum of 65535"}, messaging.Reject, false, reasonStorage},
		{"batch too large", cqlError{cqlInvalid, "Batch too large"}, messaging.Reject, false, reasonStorage},
		{"storage.ErrInvalid", &storage.InvalidError{Param: "metric", Detail: "too long"}, messaging.Reject, false, reasonStorage},
		{"missing table", cqlError{cqlInvalid, "unconfigured table measures_raw"}, messaging.Requeue, true, "error"},
		{"unavailable", cqlError{cqlUnavailable, "Cannot achieve consistency level"}, messaging.Requeue, true, "unavailable"},
		{"write timeout", cqlError{cqlWriteTimeout, "Operation timed out"}, messaging.Requeue, true, "timeout"},
		{"no hosts", errors.New("gocql: no hosts available in the pool"), messaging.Requeue, true, "unavailable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs := &flakyStore{Store: newStore(t), err: c.err}
			rs.failures.Store(1 << 30)
			col := atTime(New(rs, nil), now)
			col.RetryWait = time.Millisecond
			cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			if out := col.HandleAgent(cctx, messaging.Delivery{RoutingKey: "samples.cmp1", Body: batchBody(t, goodBatch(1, testUUID))}); out != c.want {
				t.Errorf("outcome %v; want %v", out, c.want)
			}
			if retried := rs.tries.Load() > 1; retried != c.retried {
				t.Errorf("%d tries", rs.tries.Load())
			}
			if c.retried {
				if n := testutil.ToFloat64(col.m.retries.WithLabelValues(c.reason)); n < 1 {
					t.Errorf("retries with reason %s: %v", c.reason, n)
				}
			} else if n := testutil.ToFloat64(col.m.parked.WithLabelValues(queueAgent, c.reason)); n != 1 {
				t.Errorf("parked with reason %s: %v", c.reason, n)
			}
		})
	}
}

// An agent whose clock is off by more than MaxClockSkew is flagged on its
// host, its heartbeats timed by the collector's clock; back within, the
// flag clears. Its samples keep their times and are stored.
func TestClockSkew(t *testing.T) {
	s := newStore(t)
	clock := now
	col := New(s, nil)
	col.now = func() time.Time { return clock }
	heartbeat := func(agentTime time.Time) {
		t.Helper()
		body := agentBody(t, agentmsg.ObjectHeartbeat, agentmsg.EventHeartbeat, agentmsg.Heartbeat{Host: "cmp1", Time: agentTime, Interval: 10})
		if out := col.HandleAgent(ctx, messaging.Delivery{RoutingKey: "heartbeat.cmp1", Body: body}); out != messaging.Ack {
			t.Fatalf("heartbeat: %v", out)
		}
	}
	for _, c := range []struct {
		skew     time.Duration
		want     float64
		timedByC bool
	}{
		{5 * time.Minute, 300, true},
		{10 * time.Second, 0, false},
		{-5*time.Minute - 1500*time.Millisecond, -301.5, true},
		{-29 * time.Second, 0, false},
		{2 * time.Hour, 7200, true},
	} {
		clock = clock.Add(time.Minute)
		heartbeat(clock.Add(c.skew))
		h, err := s.GetHost(ctx, "cmp1")
		if err != nil || h.ClockSkew != c.want {
			t.Errorf("skew %v: host skew %v (%v); want %v", c.skew, h.ClockSkew, err, c.want)
		}
		wantTime := clock.Add(c.skew)
		if c.timedByC {
			wantTime = clock
		}
		if !h.LastHeartbeat.Equal(wantTime) {
			t.Errorf("skew %v: last heartbeat %v; want %v", c.skew, h.LastHeartbeat, wantTime)
		}
		if g := testutil.ToFloat64(col.m.skew.WithLabelValues("cmp1")); g != c.skew.Seconds() {
			t.Errorf("skew gauge %v; want %v", g, c.skew.Seconds())
		}
	}
	// A batch 5 minutes ahead: stored with its own times.
	b := goodBatch(1, testUUID)
	ahead := clock.Add(5 * time.Minute)
	b.Time, b.Instances[0].Time = ahead, ahead
	if out := col.HandleAgent(ctx, messaging.Delivery{RoutingKey: "samples.cmp1", Body: batchBody(t, b)}); out != messaging.Ack {
		t.Fatalf("batch ahead: %v", out)
	}
	res, err := s.Measures(ctx, storage.MeasureQuery{InstanceID: testUUID, Metric: "cpu_util", Start: ahead, End: ahead.Add(time.Second)})
	if err != nil || len(res) != 1 || len(res[0].Points) != 1 || !res[0].Points[0].Time.Equal(ahead) {
		t.Errorf("points of the batch ahead: %+v, %v", res, err)
	}
	if n := testutil.ToFloat64(col.m.skewed.WithLabelValues("batch")); n != 1 {
		t.Errorf("skewed batches %v", n)
	}
}

// The collector's figures are served as Prometheus text, with the hosts'
// sequence gaps read from storage.
func TestMetricsExposition(t *testing.T) {
	s := newStore(t)
	col := atTime(New(s, nil), now)
	for _, seq := range []uint64{1, 2, 5} {
		col.HandleAgent(ctx, messaging.Delivery{RoutingKey: "samples.cmp1", Body: batchBody(t, goodBatch(seq, testUUID))})
	}
	col.HandleAgent(ctx, messaging.Delivery{RoutingKey: "samples.cmp1", Body: []byte("{")})
	srv := httptest.NewServer(col.MetricsHandler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`vmmon_collector_deliveries_total{outcome="acked",queue="agent"} 3`,
		`vmmon_collector_deliveries_total{outcome="parked",queue="agent"} 1`,
		`vmmon_collector_parked_total{queue="agent",reason="undecodable"} 1`,
		`vmmon_collector_samples_stored_total 6`,
		`vmmon_collector_agent_sequence_gaps{host="cmp1"} 2`,
		`vmmon_collector_agent_last_sequence{host="cmp1"} 5`,
		`vmmon_collector_storage_write_duration_seconds_count{operation="write_samples"} 3`,
		`# TYPE vmmon_collector_storage_write_duration_seconds histogram`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("no %s in:\n%s", want, body)
		}
	}
	if problems, err := testutil.GatherAndLint(col.Registry()); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}
