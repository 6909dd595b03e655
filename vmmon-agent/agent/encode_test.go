package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/messaging"
)

// encodeBefore is how the agent encoded a message until it wrote the envelope
// itself: the data marshalled, wrapped as a json.RawMessage in the versioned
// object, that marshalled into the inner message's map, that marshalled as a
// string into the envelope.
func encodeBefore(t *testing.T, id string, ts time.Time, host, eventType, object string, data any) []byte {
	t.Helper()
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(struct {
		Name    string          `json:"vmmon_object.name"`
		Version string          `json:"vmmon_object.version"`
		Data    json.RawMessage `json:"vmmon_object.data"`
	}{object, agentmsg.Version, raw})
	inner, _ := json.Marshal(map[string]any{
		"message_id": id, "publisher_id": agentmsg.PublisherID(host), "event_type": eventType, "priority": "INFO",
		"timestamp": ts.UTC().Format(messaging.TimestampLayout), "payload": json.RawMessage(payload),
	})
	s, _ := json.Marshal(string(inner))
	out, _ := json.Marshal(struct {
		Version string          `json:"oslo.version"`
		Message json.RawMessage `json:"oslo.message"`
	}{"2.0", s})
	return out
}

// The agent's batches, heartbeats and events are the bytes they were before
// the envelope was written in one pass, and decode to the same values.
func TestEncodeAsBefore(t *testing.T) {
	f := newFake(3)
	a := newAgent(f, nil, nil)
	ctx := context.Background()
	for i := 0; i < 2; i++ { // the second batch has rates
		if _, err := a.Collect(ctx); err != nil {
			t.Fatal(err)
		}
	}
	batch, err := a.Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	batch.Instances[1].Errors = []string{`a <quoted> "error" \ é`}
	for _, c := range []struct {
		eventType, object string
		data              any
		into              any
	}{
		{agentmsg.EventSamples, agentmsg.ObjectBatch, batch, &agentmsg.Batch{}},
		{agentmsg.EventHeartbeat, agentmsg.ObjectHeartbeat, a.Heartbeat(ctx), &agentmsg.Heartbeat{}},
		{agentmsg.EventLifecycle, agentmsg.ObjectEvent, agentmsg.Event{Host: "h1", UUID: f.refs[0].UUID, Event: "stopped", Time: time.Now().UTC()}, &agentmsg.Event{}},
	} {
		body, err := a.encode(c.eventType, c.object, c.data)
		if err != nil {
			t.Fatal(err)
		}
		m, err := messaging.Decode(body)
		if err != nil {
			t.Fatal(err)
		}
		want := encodeBefore(t, m.MessageID, m.Timestamp, "h1", c.eventType, c.object, c.data)
		if !bytes.Equal(body, want) {
			t.Errorf("%s:\n got %s\nwant %s", c.object, body, want)
		}
		if err := agentmsg.Unwrap(m.Payload, c.object, c.into); err != nil {
			t.Fatal(err)
		}
		orig := reflect.ValueOf(c.data)
		if orig.Kind() != reflect.Pointer {
			p := reflect.New(orig.Type())
			p.Elem().Set(orig)
			orig = p
		}
		// What decodes compares with what was encoded, after the same trip
		// through JSON (times lose their monotonic reading).
		var back any = reflect.New(orig.Elem().Type()).Interface()
		raw, _ := json.Marshal(orig.Interface())
		_ = json.Unmarshal(raw, back)
		if !reflect.DeepEqual(c.into, back) {
			t.Errorf("%s decodes to\n%+v\nnot\n%+v", c.object, c.into, back)
		}
	}
}

// The batch Run publishes, its metrics made as it is written, is written as
// the same batch with its metrics made beforehand (as Collect makes them):
// each instance gets its own readings' metrics, in the batch's order; each
// previous reading is let go once used.
func TestLazyBatchIsCollected(t *testing.T) {
	f := newFake(3)
	a := newAgent(f, nil, nil)
	ctx := context.Background()
	if _, err := a.Collect(ctx); err != nil { // the next cycle has rates
		t.Fatal(err)
	}
	b, rs, err := a.read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	eager := *b
	eager.Instances = nil
	for i, in := range b.Instances {
		if rs[i].cur == nil || rs[i].prev == nil {
			t.Fatalf("instance %d has readings %+v; want this cycle's and the one before", i, rs[i])
		}
		in.Metrics = append(in.Metrics, a.sample(rs[i], nil)...)
		eager.Instances = append(eager.Instances, in)
	}
	if _, ok := metric(eager.Instances[0], "cpu_util"); !ok {
		t.Fatalf("no cpu_util in %+v", eager.Instances[0].Metrics)
	}
	want, err := agentmsg.AppendPayload(nil, messaging.JSONWriter{Quoted: true}, agentmsg.ObjectBatch, &eager)
	if err != nil {
		t.Fatal(err)
	}
	got, err := agentmsg.AppendPayload(nil, messaging.JSONWriter{Quoted: true}, agentmsg.ObjectBatch, a.lazy(b, rs))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("lazy batch:\n got %s\nwant %s", got, want)
	}
	for i, r := range rs {
		if r.cur != nil || r.prev != nil {
			t.Errorf("instance %d: its readings are still held after the batch was written", i)
		}
	}
	if a.prev[b.Instances[0].UUID] == nil {
		t.Error("this cycle's readings are not kept for the next cycle's rates")
	}
}
