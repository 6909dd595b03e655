// Package livestream fans the agents' samples out to the clients streaming
// an instance: vmmon-api reads the agents' stream from a queue of its own
// and hands each batch to a Hub, which gives each watched instance's sample
// to its subscribers without ever blocking on a slow one.
package livestream

import (
	"context"
	"encoding/json"
	"strings"
	"sync"

	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/messaging"
)

// Hub fans the agents' samples out to the clients streaming an instance.
// Each client has a bounded buffer: a client too slow to keep up is dropped,
// never buffered without limit.
type Hub struct {
	mu     sync.Mutex
	subs   map[string]map[*Subscriber]struct{}
	users  map[string]int // open streams by user
	buffer int
}

// Subscriber is one client streaming an instance.
type Subscriber struct {
	// C receives the instance's samples.
	C chan Sample
	// Dropped is closed when the subscriber fell behind and was dropped.
	Dropped chan struct{}
}

// Sample is one instance's sample as JSON, with its host (Full, for those
// allowed to see hosts) and without (Public). Event names it in the
// stream: "" is a sample, "alarm" an alarm's transition.
type Sample struct {
	Full, Public []byte
	Event        string
}

// AlarmKind is the routing key prefix of alarm transitions on the bus
// (alarms.<alarm id>), which collectors publish for live streams.
const AlarmKind = "alarms"

// AlarmEvent is the event type of the messages that carry them.
const AlarmEvent = "vmmon.alarm.state_change"

// Alarm hands an alarm transition's payload (JSON with instance_id) to the
// instance's clients.
func (h *Hub) Alarm(payload []byte) {
	var p struct {
		InstanceID string `json:"instance_id"`
	}
	if json.Unmarshal(payload, &p) != nil || p.InstanceID == "" {
		return
	}
	h.publish(p.InstanceID, Sample{Full: payload, Public: payload, Event: "alarm"})
}

// NewHub returns a hub that keeps at most buffer events per client.
func NewHub(buffer int) *Hub {
	if buffer <= 0 {
		buffer = 64
	}
	return &Hub{subs: map[string]map[*Subscriber]struct{}{}, users: map[string]int{}, buffer: buffer}
}

// Subscribe opens a stream of instance id for user, unless user has
// perUser streams open already (0: no cap).
func (h *Hub) Subscribe(id, user string, perUser int) (*Subscriber, bool) {
	s := &Subscriber{C: make(chan Sample, h.buffer), Dropped: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if perUser > 0 && h.users[user] >= perUser {
		return nil, false
	}
	h.users[user]++
	if h.subs[id] == nil {
		h.subs[id] = map[*Subscriber]struct{}{}
	}
	h.subs[id][s] = struct{}{}
	return s, true
}

// Unsubscribe closes a stream Subscribe opened.
func (h *Hub) Unsubscribe(id, user string, s *Subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs[id], s)
	if len(h.subs[id]) == 0 {
		delete(h.subs, id)
	}
	if h.users[user]--; h.users[user] <= 0 {
		delete(h.users, user)
	}
}

// Clients returns how many clients are streaming.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.subs {
		n += len(m)
	}
	return n
}

// publish hands data to the instance's clients without ever blocking.
func (h *Hub) publish(id string, data Sample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[id] {
		select {
		case s.C <- data:
		default:
			close(s.Dropped)
			delete(h.subs[id], s)
		}
	}
}

// HandleDelivery takes an agent batch from the bus and publishes each
// streamed instance's sample.
func (h *Hub) HandleDelivery(_ context.Context, d messaging.Delivery) messaging.Outcome {
	if strings.HasPrefix(d.RoutingKey, AlarmKind+".") {
		if m, err := messaging.Decode(d.Body); err == nil && m.EventType == AlarmEvent {
			h.Alarm(m.Payload)
		}
		return messaging.Ack
	}
	if !strings.HasPrefix(d.RoutingKey, agentmsg.KindSamples+".") {
		return messaging.Ack
	}
	h.mu.Lock()
	idle := len(h.subs) == 0
	h.mu.Unlock()
	if idle {
		return messaging.Ack
	}
	m, err := messaging.Decode(d.Body)
	if err != nil {
		return messaging.Ack // the collector parks what is broken; a live view just skips it
	}
	var b agentmsg.Batch
	if agentmsg.Unwrap(m.Payload, agentmsg.ObjectBatch, &b) != nil {
		return messaging.Ack
	}
	type view struct {
		InstanceID string `json:"instance_id"`
		Host       string `json:"host,omitempty"`
		Timestamp  any    `json:"timestamp"`
		State      any    `json:"state"`
		Metrics    any    `json:"metrics"`
	}
	for _, in := range b.Instances {
		h.mu.Lock()
		watched := len(h.subs[in.UUID]) > 0
		h.mu.Unlock()
		if !watched {
			continue
		}
		v := view{InstanceID: in.UUID, Timestamp: in.Time, State: in.State, Metrics: in.Metrics}
		public, err := json.Marshal(v)
		if err != nil {
			continue
		}
		v.Host = b.Host
		full, err := json.Marshal(v)
		if err == nil {
			h.publish(in.UUID, Sample{Full: full, Public: public})
		}
	}
	return messaging.Ack
}
