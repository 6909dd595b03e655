package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/storage/embedded"
)

var ctx = context.Background()

// testUUID is an instance of the tests.
const testUUID = "0a0a0a0a-0000-4000-8000-000000000001"

// atTime sets the collector's clock to a fixed time.
func atTime(c *Collector, now time.Time) *Collector {
	c.now = func() time.Time { return now }
	return c
}

func newStore(t *testing.T) *embedded.Store {
	t.Helper()
	s, err := embedded.Open(t.TempDir(), storage.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// envelope wraps a Nova sample as oslo.messaging puts it on the wire.
func envelope(t *testing.T, sample map[string]any, ts time.Time, requestID string) []byte {
	t.Helper()
	inner := map[string]any{}
	for k, v := range sample {
		inner[k] = v
	}
	inner["message_id"] = messaging.NewUUID()
	inner["timestamp"] = ts.UTC().Format(messaging.TimestampLayout)
	inner["_context_request_id"] = requestID
	inner["_context_user_id"] = "ctx-user"
	inner["_context_project_id"] = "ctx-project"
	b, _ := json.Marshal(inner)
	s, _ := json.Marshal(string(b))
	return []byte(`{"oslo.version": "2.0", "oslo.message": ` + string(s) + `}`)
}

func loadSample(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Every instance.* sample Nova publishes is understood: the registry ends in
// the state the payload says, and the timeline holds the event.
func TestEveryNovaInstanceSample(t *testing.T) {
	paths, _ := filepath.Glob("testdata/instance-*.json")
	if len(paths) < 90 {
		t.Fatalf("%d samples", len(paths))
	}
	for _, p := range paths {
		sample := loadSample(t, p)
		s := newStore(t)
		ts := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
		c := atTime(New(s, nil), ts)
		out := c.HandleNova(ctx, messaging.Delivery{RoutingKey: "versioned_notifications.info", Body: envelope(t, sample, ts, "req-1")})
		if out != messaging.Ack {
			t.Errorf("%s: outcome %v", p, out)
			continue
		}
		data := sample["payload"].(map[string]any)["nova_object.data"].(map[string]any)
		inst, err := s.GetInstance(ctx, data["uuid"].(string))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		host, _ := data["host"].(string)
		if inst.State != data["state"] || inst.Host != host || inst.ProjectID != data["tenant_id"] ||
			inst.PowerState != data["power_state"] || !inst.UpdatedAt.Equal(ts) {
			t.Errorf("%s: instance %+v", filepath.Base(p), inst)
		}
		if f, ok := data["flavor"].(map[string]any); ok {
			fd := f["nova_object.data"].(map[string]any)
			if inst.FlavorName != fd["name"] || float64(inst.FlavorVCPUs) != fd["vcpus"].(float64) {
				t.Errorf("%s: flavor %s/%d", filepath.Base(p), inst.FlavorName, inst.FlavorVCPUs)
			}
		}
		evs, _ := s.Events(ctx, storage.EventQuery{InstanceID: inst.ID})
		if len(evs) != 1 || evs[0].Type != sample["event_type"] || evs[0].RequestID != "req-1" || evs[0].Source != "nova" {
			t.Errorf("%s: events %+v", filepath.Base(p), evs)
		}
		if strings.HasSuffix(sample["event_type"].(string), ".error") && evs[0].Fault == "" {
			t.Errorf("%s: no fault recorded", filepath.Base(p))
		}
	}
}

// The same instance through a lifecycle: the newest notification wins even
// when an older one arrives last; deletion is recorded.
func TestLifecycleOrder(t *testing.T) {
	s := newStore(t)
	base := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	c := atTime(New(s, nil), base)
	send := func(name string, at time.Duration) {
		sample := loadSample(t, filepath.Join("testdata", name))
		if out := c.HandleNova(ctx, messaging.Delivery{Body: envelope(t, sample, base.Add(at), "req")}); out != messaging.Ack {
			t.Fatalf("%s: %v", name, out)
		}
	}
	send("instance-create-end.json", 0)
	send("instance-delete-end.json", 2*time.Second)
	send("instance-power_off-end.json", time.Second) // late
	data := loadSample(t, "testdata/instance-create-end.json")["payload"].(map[string]any)["nova_object.data"].(map[string]any)
	inst, _ := s.GetInstance(ctx, data["uuid"].(string))
	if inst.State != "deleted" || !inst.Deleted {
		t.Errorf("after create, delete and a late power_off: %+v", inst)
	}
	evs, _ := s.Events(ctx, storage.EventQuery{InstanceID: inst.ID})
	if len(evs) != 3 || evs[0].Type != "instance.delete.end" {
		t.Errorf("timeline %+v", evs)
	}
}

func batchBody(t *testing.T, b agentmsg.Batch) []byte {
	t.Helper()
	payload, err := agentmsg.Wrap(agentmsg.ObjectBatch, b)
	if err != nil {
		t.Fatal(err)
	}
	m := &messaging.Message{MessageID: messaging.NewUUID(), PublisherID: "vmmon-agent:" + b.Host, EventType: agentmsg.EventSamples,
		Priority: "INFO", Timestamp: b.Time, Payload: payload}
	body, err := messaging.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func oneBatch(host string, seq uint64, uuid string, at time.Time) agentmsg.Batch {
	return agentmsg.Batch{Host: host, Stream: "s1", Seq: seq, Time: at, Interval: 10, Instances: []agentmsg.Instance{{
		UUID: uuid, Name: "instance-1", State: "running", Time: at,
		Nova: &agentmsg.Nova{Name: "web-1", ProjectID: "proj-a", UserID: "u", Flavor: agentmsg.Flavor{Name: "m1.small", VCPUs: 2}},
		Metrics: []agentmsg.Metric{{Name: "cpu_util", Value: 12.5, Unit: "%", Kind: agentmsg.Rate},
			{Name: "disk.device.read.bytes", Device: "vda", Value: 1000, Unit: "B", Kind: agentmsg.Cumulative}},
	}}}
}

// A VM seen by an agent before Nova said anything is kept, named by its
// metadata; its samples carry its project and host; a redelivered batch
// changes nothing; a sequence gap is counted.
func TestBatchBeforeNovaAndRedelivery(t *testing.T) {
	s := newStore(t)
	uuid := "11111111-2222-4333-8444-555555555555"
	at := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	c := atTime(New(s, nil), at)
	body := batchBody(t, oneBatch("cmp1", 1, uuid, at))
	for i := 0; i < 2; i++ {
		if out := c.HandleAgent(ctx, messaging.Delivery{RoutingKey: "samples.cmp1", Body: body}); out != messaging.Ack {
			t.Fatalf("outcome %v", out)
		}
	}
	inst, err := s.GetInstance(ctx, uuid)
	if err != nil || inst.Name != "web-1" || inst.ProjectID != "proj-a" || inst.Host != "cmp1" || inst.State != "active" || inst.FlavorVCPUs != 2 {
		t.Errorf("instance from the agent: %+v, %v", inst, err)
	}
	res, err := s.Measures(ctx, storage.MeasureQuery{InstanceID: uuid, Metric: "cpu_util", Start: at.Add(-time.Minute), End: at.Add(time.Minute)})
	if err != nil || len(res) != 1 || len(res[0].Points) != 1 || res[0].Points[0].Value != 12.5 {
		t.Errorf("measures after a redelivered batch: %+v, %v", res, err)
	}
	if out := c.HandleAgent(ctx, messaging.Delivery{RoutingKey: "samples.cmp1", Body: batchBody(t, oneBatch("cmp1", 4, uuid, at.Add(30*time.Second)))}); out != messaging.Ack {
		t.Fatal(out)
	}
	h, _ := s.GetHost(ctx, "cmp1")
	if h.LastSeq != 4 || h.SeqGaps != 2 {
		t.Errorf("host %+v; want last seq 4 and 2 gaps", h)
	}
}

// Samples from a host for an instance Nova places elsewhere are flagged and
// not mixed into its series.
func TestHostMismatch(t *testing.T) {
	s := newStore(t)
	uuid := "11111111-2222-4333-8444-555555555556"
	at := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	c := atTime(New(s, nil), at)
	if err := s.PutInstance(ctx, storage.Instance{ID: uuid, ProjectID: "proj-a", Host: "cmp2", State: "active", UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if out := c.HandleAgent(ctx, messaging.Delivery{RoutingKey: "samples.cmp1", Body: batchBody(t, oneBatch("cmp1", 1, uuid, at))}); out != messaging.Ack {
		t.Fatal(out)
	}
	if ms, _ := s.Metrics(ctx, uuid); len(ms) != 0 {
		t.Errorf("mismatched samples stored: %+v", ms)
	}
	evs, _ := s.Events(ctx, storage.EventQuery{InstanceID: uuid})
	if c.Stats().HostMismatch != 1 || len(evs) != 1 || evs[0].Type != "vmmon.host_mismatch" {
		t.Errorf("mismatch not flagged: %+v, events %+v", c.Stats(), evs)
	}
}

// Malformed messages are parked (rejected), never retried, never fatal.
func TestMalformedMessagesAreParked(t *testing.T) {
	s := newStore(t)
	c := New(s, nil)
	good := batchBody(t, oneBatch("cmp1", 1, testUUID, time.Now()))
	wrongVersion := strings.Replace(string(good), `\"vmmon_object.version\":\"1.0\"`, `\"vmmon_object.version\":\"2.0\"`, 1)
	cases := map[string]messaging.Delivery{
		"truncated":      {RoutingKey: "samples.cmp1", Body: good[:len(good)/2]},
		"not json":       {RoutingKey: "samples.cmp1", Body: []byte("hello")},
		"wrong envelope": {RoutingKey: "samples.cmp1", Body: []byte(`{"oslo.version": "2.0", "oslo.message": 5}`)},
		"wrong types":    {RoutingKey: "samples.cmp1", Body: []byte(`{"event_type": "vmmon.samples", "payload": {"vmmon_object.name": "SampleBatch", "vmmon_object.version": "1.0", "vmmon_object.data": {"seq": "one"}}}`)},
		"unknown key":    {RoutingKey: "bogus.cmp1", Body: good},
		"newer major":    {RoutingKey: "samples.cmp1", Body: []byte(wrongVersion)},
		"huge":           {RoutingKey: "samples.cmp1", Body: make([]byte, messaging.MaxBodyBytes+1)},
		"nova not json":  {RoutingKey: "versioned_notifications.info", Body: []byte("{")},
	}
	for name, d := range cases {
		var out messaging.Outcome
		if strings.HasPrefix(d.RoutingKey, "versioned") {
			out = c.HandleNova(ctx, d)
		} else {
			out = c.HandleAgent(ctx, d)
		}
		if out != messaging.Reject {
			t.Errorf("%s: outcome %v; want Reject", name, out)
		}
	}
	if c.Stats().Parked != len(cases) {
		t.Errorf("parked %d of %d", c.Stats().Parked, len(cases))
	}
	// Notifications that are not about instances are acknowledged and ignored.
	other := loadSample(t, "testdata/instance-create-end.json")
	other["event_type"] = "aggregate.create.end"
	if out := c.HandleNova(ctx, messaging.Delivery{Body: envelope(t, other, time.Now(), "r")}); out != messaging.Ack {
		t.Errorf("other notification: %v", out)
	}
}

// flakyStore fails its first writes of samples, like a storage outage, or
// with err, or panics as a bug would; it counts the tries.
type flakyStore struct {
	storage.Store
	failures, tries atomic.Int32
	err             error
	panics          bool
}

func (f *flakyStore) WriteSamples(ctx context.Context, s []storage.Sample) error {
	f.tries.Add(1)
	if f.failures.Add(-1) >= 0 {
		switch {
		case f.panics:
			var m map[string]int
			m["boom"]++
		case f.err != nil:
			return fmt.Errorf("writing raw points: %w", f.err)
		}
		return errors.New("cassandra: no hosts available")
	}
	return f.Store.WriteSamples(ctx, s)
}

// A storage outage holds the message until writes succeed; a shutdown during
// the outage gives the message back to the broker.
func TestStorageOutageHoldsTheMessage(t *testing.T) {
	fs := &flakyStore{Store: newStore(t)}
	fs.failures.Store(3)
	c := New(fs, nil)
	c.RetryWait = 10 * time.Millisecond
	body := batchBody(t, oneBatch("cmp1", 1, testUUID, time.Now()))
	if out := c.HandleAgent(ctx, messaging.Delivery{RoutingKey: "samples.cmp1", Body: body}); out != messaging.Ack {
		t.Errorf("outcome %v", out)
	}
	if n := c.Stats().StorageRetries; n != 3 {
		t.Errorf("%d retries; want 3", n)
	}
	fs.failures.Store(1000)
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if out := c.HandleAgent(cctx, messaging.Delivery{RoutingKey: "samples.cmp1", Body: body}); out != messaging.Requeue {
		t.Errorf("outcome at shutdown %v; want Requeue", out)
	}
}

// The action whose request id a notification carries is completed by it.
func TestActionCompletion(t *testing.T) {
	s := newStore(t)
	c := New(s, nil)
	sample := loadSample(t, "testdata/instance-reboot-end.json")
	uuid := sample["payload"].(map[string]any)["nova_object.data"].(map[string]any)["uuid"].(string)
	for i, ev := range []string{"instance-reboot-end.json", "instance-reboot-error.json"} {
		id := fmt.Sprint("a", i)
		if _, err := s.PutAction(ctx, storage.Action{ID: id, InstanceID: uuid, Action: "reboot", Status: "pending", RequestID: "req-" + id}); err != nil {
			t.Fatal(err)
		}
		c.HandleNova(ctx, messaging.Delivery{Body: envelope(t, loadSample(t, "testdata/"+ev), time.Now(), "req-"+id)})
		a, _ := s.GetAction(ctx, uuid, id)
		want := []string{"succeeded", "failed"}[i]
		if a.Status != want || (i == 1 && a.Message == "") {
			t.Errorf("%s: action %+v; want %s", ev, a, want)
		}
	}
}

// A libvirt lifecycle event from an agent joins the instance's timeline.
func TestAgentLifecycleEvent(t *testing.T) {
	s := newStore(t)
	at := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	c := atTime(New(s, nil), at)
	payload, _ := agentmsg.Wrap(agentmsg.ObjectEvent, agentmsg.Event{Host: "cmp1", UUID: testUUID, Name: "instance-1",
		Event: "suspended", Detail: "paused", Time: at})
	body, _ := messaging.Encode(&messaging.Message{MessageID: "m-1", PublisherID: "vmmon-agent:cmp1", EventType: agentmsg.EventLifecycle,
		Priority: "INFO", Timestamp: at, Payload: payload})
	for i := 0; i < 2; i++ { // redelivered: stored once
		if out := c.HandleAgent(ctx, messaging.Delivery{RoutingKey: "events.cmp1", Body: body}); out != messaging.Ack {
			t.Fatal(out)
		}
	}
	evs, _ := s.Events(ctx, storage.EventQuery{InstanceID: testUUID})
	if len(evs) != 1 || evs[0].Type != "libvirt.suspended" || evs[0].Source != "libvirt" || evs[0].Detail != "paused" || evs[0].Host != "cmp1" {
		t.Errorf("events %+v", evs)
	}
	// Nova moved the instance to cmp2: a later event from cmp1 (a domain
	// left behind) is kept, and says where it came from.
	if err := s.PutInstance(ctx, storage.Instance{ID: testUUID, ProjectID: "p", Host: "cmp2", State: "active", UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	payload, _ = agentmsg.Wrap(agentmsg.ObjectEvent, agentmsg.Event{Host: "cmp1", UUID: testUUID, Name: "instance-1",
		Event: "resumed", Detail: "unpaused", Time: at.Add(time.Minute)})
	body, _ = messaging.Encode(&messaging.Message{MessageID: "m-2", PublisherID: "vmmon-agent:cmp1", EventType: agentmsg.EventLifecycle,
		Priority: "INFO", Timestamp: at.Add(time.Minute), Payload: payload})
	if out := atTime(New(s, nil), at.Add(time.Minute)).HandleAgent(ctx, messaging.Delivery{RoutingKey: "events.cmp1", Body: body}); out != messaging.Ack {
		t.Fatal(out)
	}
	evs, _ = s.Events(ctx, storage.EventQuery{InstanceID: testUUID})
	if len(evs) != 2 || evs[0].Type != "libvirt.resumed" || !strings.Contains(evs[0].Detail, "while Nova places the instance on cmp2") {
		t.Errorf("an event from the wrong host is not flagged: %+v", evs)
	}
}
