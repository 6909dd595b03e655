package api

import (
	"fmt"
	"net/http"
	"time"

	"opendev.org/openstack/vmmon/vmmon/policy"
)

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
	sub, ok := s.cfg.Live.Subscribe(inst.ID, caller.UserID, s.cfg.StreamsPerUser)
	if !ok {
		w.Header().Set("Retry-After", "30")
		fail(w, r, http.StatusTooManyRequests, "vmmon.stream.too_many",
			fmt.Sprintf("You have %d live streams open, the most allowed; close one first.", s.cfg.StreamsPerUser))
		return
	}
	defer s.cfg.Live.Unsubscribe(inst.ID, caller.UserID, sub)
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
		case <-sub.Dropped:
			write("event: error\ndata: {\"detail\": \"the client did not keep up and was dropped; reconnect\"}\n\n")
			return
		case smp := <-sub.C:
			data := smp.Public
			if showHost {
				data = smp.Full
			}
			event := "sample"
			if smp.Event != "" {
				event = smp.Event
			}
			if !write("id: %d\nevent: %s\ndata: %s\n\n", n, event, data) {
				return
			}
		case <-keepalive.C:
			if !write(": keep-alive\n\n") {
				return
			}
		}
	}
}
