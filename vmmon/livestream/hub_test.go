package livestream

import (
	"context"
	"strings"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/messaging"
)

func delivery(t *testing.T, host, id string) messaging.Delivery {
	t.Helper()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	payload, err := agentmsg.Wrap(agentmsg.ObjectBatch, agentmsg.Batch{Host: host, Seq: 1, Time: now, Instances: []agentmsg.Instance{{
		UUID: id, State: "running", Time: now, Metrics: []agentmsg.Metric{{Name: "cpu_util", Value: 1, Unit: "%", Kind: "rate"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := messaging.Encode(&messaging.Message{MessageID: "m", EventType: agentmsg.EventSamples, Priority: "INFO", Timestamp: now, Payload: payload})
	return messaging.Delivery{RoutingKey: "samples." + host, Body: body}
}

// A user holds at most perUser streams; a sample reaches the instance's
// subscribers, with and without its host; a slow subscriber is dropped.
func TestHub(t *testing.T) {
	h := NewHub(1)
	a, ok := h.Subscribe("i1", "u1", 2)
	b, ok2 := h.Subscribe("i1", "u1", 2)
	if !ok || !ok2 {
		t.Fatal("the first two streams were refused")
	}
	if _, ok := h.Subscribe("i2", "u1", 2); ok {
		t.Error("a third stream of one user was accepted")
	}
	if _, ok := h.Subscribe("i2", "u2", 2); !ok {
		t.Error("another user's stream was refused")
	}
	h.Unsubscribe("i1", "u1", b)
	if _, ok := h.Subscribe("i2", "u1", 2); !ok {
		t.Error("a stream closed did not free its place")
	}
	h.HandleDelivery(context.Background(), delivery(t, "cmp7", "i1"))
	s := <-a.C
	if string(s.Full) == string(s.Public) || len(s.Public) == 0 {
		t.Errorf("full %s, public %s", s.Full, s.Public)
	}
	// a's buffer (1) fills, then it is dropped.
	h.HandleDelivery(context.Background(), delivery(t, "cmp7", "i1"))
	h.HandleDelivery(context.Background(), delivery(t, "cmp7", "i1"))
	select {
	case <-a.Dropped:
	default:
		t.Error("a subscriber that fell behind was not dropped")
	}
	if n := h.Clients(); n != 2 {
		t.Errorf("%d clients; want 2 (the dropped one gone)", n)
	}
}

// An alarm transition on the bus reaches the streams of its instance as
// an "alarm" event.
func TestHubAlarmEvent(t *testing.T) {
	h := NewHub(4)
	s, _ := h.Subscribe("i1", "u1", 0)
	other, _ := h.Subscribe("i2", "u1", 0)
	m, err := messaging.NewMessage("vmmon-collector:x", AlarmEvent, "INFO", map[string]any{"alarm_id": "a", "instance_id": "i1", "current": "alarm"})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := messaging.Encode(m)
	h.HandleDelivery(context.Background(), messaging.Delivery{RoutingKey: AlarmKind + ".a", Body: body})
	select {
	case got := <-s.C:
		if got.Event != "alarm" || !strings.Contains(string(got.Public), `"current":"alarm"`) {
			t.Errorf("event %q: %s", got.Event, got.Public)
		}
	default:
		t.Fatal("no alarm event")
	}
	select {
	case got := <-other.C:
		t.Errorf("another instance's stream got %s", got.Public)
	default:
	}
}
