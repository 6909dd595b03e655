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
	"opendev.org/openstack/vmmon/vmmon/policy"
)

// Hub fans the agents' samples out to the clients streaming an instance.
// Each client has a bounded buffer: a client too slow to keep up is dropped,
// never buffered without limit.
type Hub struct {
	mu     sync.Mutex
	subs   map[string]map[*subscriber]struct{}
	users  map[string]int // open streams by user
	buffer int
}

type subscriber struct {
	ch      chan sample
	dropped chan struct{}
}

// sample is one instance's sample as JSON, with its host (for those the
// host rule allows) and without.
type sample struct{ full, public []byte }

// NewHub returns a hub that keeps at most buffer events per client.
func NewHub(buffer int) *Hub {
	if buffer <= 0 {
		buffer = 64
	}
	return &Hub{subs: map[string]map[*subscriber]struct{}{}, users: map[string]int{}, buffer: buffer}
}

// subscribe opens a stream of instance id for user, unless user has
// perUser streams open already (0: no cap).
func (h *Hub) subscribe(id, user string, perUser int) (*subscriber, bool) {
	s := &subscriber{ch: make(chan sample, h.buffer), dropped: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if perUser > 0 && h.users[user] >= perUser {
		return nil, false
	}
	h.users[user]++
	if h.subs[id] == nil {
		h.subs[id] = map[*subscriber]struct{}{}
	}
	h.subs[id][s] = struct{}{}
	return s, true
}

func (h *Hub) unsubscribe(id, user string, s *subscriber) {
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
func (h *Hub) publish(id string, data sample) {
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
			h.publish(in.UUID, sample{full: full, public: public})
		}
	}
	return messaging.Ack
}

// streamRetry is what browsers are told to wait before they reconnect.
const streamRetry = 3 * time.Second

// stream serves GET /v1/instances/{id}/stream as Server-Sent Events. A
// stream ends when the client goes, falls behind, reaches the maximum
// lifetime or its token expires; each event carries an id and the stream a
// retry delay, so that browsers reconnect by themselves.
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
	caller := callerOf(r)
	sub, ok := s.cfg.Live.subscribe(inst.ID, caller.UserID, s.cfg.StreamsPerUser)
	if !ok {
		w.Header().Set("Retry-After", "30")
		fail(w, r, http.StatusTooManyRequests, "vmmon.stream.too_many",
			fmt.Sprintf("You have %d live streams open, the most allowed; close one first.", s.cfg.StreamsPerUser))
		return
	}
	defer s.cfg.Live.unsubscribe(inst.ID, caller.UserID, sub)
	showHost := s.allowed(r, "vmmon:instance:host", policy.Target{"project_id": inst.ProjectID})
	rc := http.NewResponseController(w)
	// The server's read timeout is for the request; a stream lives longer.
	_ = rc.SetReadDeadline(time.Time{})
	lifetime := s.cfg.StreamMaxLifetime
	if until := time.Until(caller.ExpiresAt); !caller.ExpiresAt.IsZero() && until < lifetime {
		lifetime = until
	}
	end := time.NewTimer(lifetime)
	defer end.Stop()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// A stream outlives the server's write timeout: each write gets its own.
	write := func(format string, a ...any) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := fmt.Fprintf(w, format, a...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write("retry: %d\n: streaming samples of %s\n\n", streamRetry.Milliseconds(), inst.ID) {
		return
	}
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for n := 1; ; n++ {
		select {
		case <-r.Context().Done():
			return
		case <-end.C:
			write("event: end\ndata: {\"detail\": \"the stream reached its maximum lifetime or the token expired; reconnect with a valid token\"}\n\n")
			return
		case <-sub.dropped:
			write("event: error\ndata: {\"detail\": \"the client did not keep up and was dropped; reconnect\"}\n\n")
			return
		case smp := <-sub.ch:
			data := smp.public
			if showHost {
				data = smp.full
			}
			if !write("id: %d\nevent: sample\ndata: %s\n\n", n, data) {
				return
			}
		case <-keepalive.C:
			if !write(": keep-alive\n\n") {
				return
			}
		}
	}
}
