package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/messaging"
)

// Hub fans the agents' samples out to the clients streaming an instance.
// Each client has a bounded buffer: a client too slow to keep up is dropped,
// never buffered without limit.
type Hub struct {
	mu     sync.Mutex
	subs   map[string]map[*subscriber]struct{}
	buffer int
}

type subscriber struct {
	ch      chan []byte
	dropped chan struct{}
}

// NewHub returns a hub that keeps at most buffer events per client.
func NewHub(buffer int) *Hub {
	if buffer <= 0 {
		buffer = 64
	}
	return &Hub{subs: map[string]map[*subscriber]struct{}{}, buffer: buffer}
}

func (h *Hub) subscribe(id string) *subscriber {
	s := &subscriber{ch: make(chan []byte, h.buffer), dropped: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs[id] == nil {
		h.subs[id] = map[*subscriber]struct{}{}
	}
	h.subs[id][s] = struct{}{}
	return s
}

func (h *Hub) unsubscribe(id string, s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs[id], s)
	if len(h.subs[id]) == 0 {
		delete(h.subs, id)
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
func (h *Hub) publish(id string, data []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[id] {
		select {
		case s.ch <- data:
		default:
			close(s.dropped)
			delete(h.subs[id], s)
		}
	}
}

// HandleDelivery takes an agent batch from the bus and publishes each
// streamed instance's sample.
func (h *Hub) HandleDelivery(_ context.Context, d messaging.Delivery) messaging.Outcome {
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
	for _, in := range b.Instances {
		data, err := json.Marshal(map[string]any{"instance_id": in.UUID, "host": b.Host, "timestamp": in.Time,
			"state": in.State, "metrics": in.Metrics})
		if err == nil {
			h.publish(in.UUID, data)
		}
	}
	return messaging.Ack
}

// stream serves GET /v1/instances/{id}/stream as Server-Sent Events.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	if _, ok := params(w, r); !ok {
		return
	}
	inst, ok := s.instance(w, r, "vmmon:instance:get")
	if !ok {
		return
	}
	if s.cfg.Live == nil {
		fail(w, r, http.StatusServiceUnavailable, "vmmon.stream.unavailable", "This vmmon-api has no live stream configured.")
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		s.internal(w, r, fmt.Errorf("response writer cannot flush"))
		return
	}
	sub := s.cfg.Live.subscribe(inst.ID)
	defer s.cfg.Live.unsubscribe(inst.ID, sub)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, ": streaming samples of %s\n\n", inst.ID)
	flusher.Flush()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-sub.dropped:
			fmt.Fprint(w, "event: error\ndata: {\"detail\": \"the client did not keep up and was dropped; reconnect\"}\n\n")
			flusher.Flush()
			return
		case data := <-sub.ch:
			fmt.Fprintf(w, "event: sample\ndata: %s\n\n", data)
			flusher.Flush()
		case <-keepalive.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			flusher.Flush()
		}
	}
}
