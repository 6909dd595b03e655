package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"opendev.org/openstack/vmmon/vmmon-agent/hypervisor"
	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/version"
)

// Run collects and publishes every interval until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	events := make(chan hypervisor.Event, 256)
	var (
		stopEvents context.CancelFunc
		eventsConn hypervisor.Conn
	)
	defer func() {
		if stopEvents != nil {
			stopEvents()
		}
	}()
	tick := time.NewTicker(a.cfg.Interval)
	defer tick.Stop()
	for {
		batch, rs, err := a.read(ctx)
		if err != nil {
			a.log.Error("collection failed", "error", err)
		} else {
			if err := a.send(ctx, agentmsg.KindSamples, agentmsg.EventSamples, agentmsg.ObjectBatch, a.lazy(batch, rs)); err != nil {
				a.log.Error("spooling a batch failed", "seq", batch.Seq, "error", err)
			}
			a.sampled()
		}
		// (Re)start the lifecycle event listener on the current connection.
		a.mu.Lock()
		conn := a.conn
		a.mu.Unlock()
		if conn != nil && conn != eventsConn {
			if stopEvents != nil {
				stopEvents()
			}
			ectx, cancel := context.WithCancel(ctx)
			stopEvents, eventsConn = cancel, conn
			go func() {
				if err := conn.Events(ectx, events); err != nil && ectx.Err() == nil {
					a.log.Warn("libvirt lifecycle events stopped", "error", err)
				}
			}()
		}
		a.heartbeat(ctx)
		for {
			select {
			case <-ctx.Done():
				return nil
			case ev := <-events:
				a.event(ctx, ev)
				continue
			case <-tick.C:
			}
			break
		}
	}
}

func (a *Agent) event(ctx context.Context, ev hypervisor.Event) {
	a.forget(ev.UUID)
	a.log.Info("domain lifecycle event", "uuid", ev.UUID, "domain", ev.Name, "event", ev.Event, "detail", ev.Detail)
	e := agentmsg.Event{Host: a.cfg.Host, UUID: ev.UUID, Name: ev.Name, Event: ev.Event, Detail: ev.Detail, Time: ev.Time}
	if err := a.send(ctx, agentmsg.KindEvents, agentmsg.EventLifecycle, agentmsg.ObjectEvent, e); err != nil {
		a.log.Error("spooling an event failed", "uuid", ev.UUID, "error", err)
	}
}

// encode wraps a payload in the oslo envelope, writing it once: the payload
// straight into the inner message, the inner message escaped once into the
// body (the same bytes as agentmsg.Wrap and messaging.Encode would give).
func (a *Agent) encode(eventType, object string, data any) ([]byte, error) {
	m := &messaging.Message{
		MessageID: messaging.NewUUID(), PublisherID: agentmsg.PublisherID(a.cfg.Host), EventType: eventType,
		Priority: messaging.PriorityInfo, Timestamp: a.now().UTC(),
	}
	a.encMu.Lock()
	defer a.encMu.Unlock()
	return a.enc.Encode(m, func(dst []byte, w messaging.JSONWriter) ([]byte, error) {
		return agentmsg.AppendPayload(dst, w, object, data)
	})
}

// send publishes a message, after those the spool holds. While the spool is
// empty the message goes straight to the broker and is spooled only when the
// broker does not confirm it (unreachable, no confirm in time, a nack, or no
// queue bound for it); while the spool holds messages, each new one is
// spooled behind them and the spool drained, so that they leave in order.
//
// Writing every message to disk first cost each cycle about a tenth of its
// CPU (a file written, synced and renamed, the folder synced, the file
// removed) to guard against one loss only: the agent killed after sending a
// message and before the broker's confirm. The message at risk then is the
// one being sent: a batch, which a kill while its cycle is read or encoded
// loses all the same, or a lifecycle event, which is lost for good (the
// next cycle's batch still shows the domain's state). What was confirmed is
// the broker's, and what was not is on disk before the next message is sent,
// unless the spool refuses it too (send then says the message is lost).
//
// A spool that refuses a message (disk full, read-only) must not silence the
// host: the message is then published directly, after what the spool holds.
func (a *Agent) send(ctx context.Context, kind, eventType, object string, data any) error {
	body, err := a.encode(eventType, object, data)
	if err != nil {
		return err
	}
	if a.pub == nil {
		return nil
	}
	key := agentmsg.RoutingKey(kind, a.cfg.Host)
	if a.spool == nil {
		return a.publish(ctx, key, body)
	}
	if waiting, _, _ := a.spool.Stats(); waiting == 0 {
		perr := a.publish(ctx, key, body)
		a.brokerState(0, perr)
		if perr == nil {
			return nil
		}
		if err := a.spool.Append(key, body); err != nil {
			a.health.spoolError(err)
			return fmt.Errorf("the broker did not confirm the message (%w) and the spool refused it (%w): the message is lost", perr, err)
		}
		return nil
	}
	if err := a.spool.Append(key, body); err != nil {
		a.health.spoolError(err)
		a.log.Error("the spool refused a message; publishing it directly", "routing_key", key, "error", err)
		if a.drain(ctx) != nil {
			return fmt.Errorf("the spool refused the message (%w) and the broker is unavailable: the message is lost", err)
		}
		if perr := a.publish(ctx, key, body); perr != nil {
			return fmt.Errorf("the spool refused the message (%w) and publishing it failed: the message is lost: %w", err, perr)
		}
		a.health.direct()
		return nil
	}
	a.drain(ctx)
	return nil
}

// publish sends one message, counting those the broker returned.
func (a *Agent) publish(ctx context.Context, key string, body []byte) error {
	err := a.pub.PublishBody(ctx, key, body)
	a.health.published(err)
	return err
}

func (a *Agent) drain(ctx context.Context) error {
	n, err := a.spool.Drain(ctx, a.publish)
	a.brokerState(n, err)
	return err
}

// brokerState logs when the broker stops or starts taking messages: err is
// the last attempt's outcome, n how many spooled messages it sent.
func (a *Agent) brokerState(n int, err error) {
	left, _, dropped := a.spool.Stats()
	switch {
	case errors.Is(err, messaging.ErrUnroutable):
		a.pubDown = true
		a.log.Error("batches are unroutable: no queue is bound for them on the exchange (is the collector's queue gone?); keeping them spooled",
			"error", err, "spooled", left)
	case err != nil && !a.pubDown:
		a.pubDown = true
		a.log.Warn("broker unreachable; spooling", "error", err, "spooled", left)
	case err == nil && a.pubDown:
		a.pubDown = false
		a.log.Info("broker reachable again; spool drained", "sent", n, "dropped", dropped)
	}
}

// Heartbeat returns the agent's current heartbeat.
func (a *Agent) Heartbeat(ctx context.Context) agentmsg.Heartbeat {
	a.mu.Lock()
	conn, connErr := a.conn, a.connErr
	a.mu.Unlock()
	hb := agentmsg.Heartbeat{
		Host: a.cfg.Host, Stream: a.stream, AgentVersion: version.Version, Time: a.now().UTC(),
		Interval: a.cfg.Interval.Seconds(), LibvirtURI: a.cfg.LibvirtURI, Domains: a.domains,
		LastSeq: a.seq, LastDurationMS: ms(a.lastDur), TimedOut: a.timedOut,
		Samplers: append([]agentmsg.SamplerStatus(nil), a.families...),
	}
	if a.spool != nil {
		hb.SpoolMessages, hb.SpoolBytes, hb.SpoolDropped = a.spool.Stats()
		hb.SpoolMovedAside, hb.SpoolWritten = a.spool.Aside(), a.spool.Written()
		if free, err := a.spool.Free(); err == nil {
			hb.SpoolFreeBytes = &free
		}
	}
	a.health.fill(&hb)
	if conn != nil && conn.Alive() {
		if h, err := within(ctx, a.cfg.Timeout, conn.Host); err == nil {
			hb.LibvirtConnected = true
			hb.LibvirtVersion, hb.HypervisorType, hb.HypervisorVersion = h.LibvirtVersion, h.HypervisorType, h.HypervisorVersion
			hb.HostCPUs, hb.HostMemoryMB, hb.HostFreeMemoryMB = h.CPUs, h.MemoryKiB/1024, h.FreeMemoryKiB/1024
		} else {
			hb.LibvirtError = err.Error()
		}
	} else if connErr != nil {
		hb.LibvirtError = connErr.Error()
	}
	return hb
}

// heartbeat publishes the heartbeat directly: a stale one is worth nothing, so
// it is never spooled.
func (a *Agent) heartbeat(ctx context.Context) {
	if a.pub == nil {
		return
	}
	body, err := a.encode(agentmsg.EventHeartbeat, agentmsg.ObjectHeartbeat, a.Heartbeat(ctx))
	if err == nil {
		err = a.publish(ctx, agentmsg.RoutingKey(agentmsg.KindHeartbeat, a.cfg.Host), body)
	}
	if err != nil {
		a.log.Debug("heartbeat not published", "error", err)
	}
}

// health counts what went wrong on the way to the broker, for the heartbeat.
type health struct {
	mu               sync.Mutex
	spoolErrors      uint64
	spoolLastError   string
	directs          uint64
	unroutable       uint64
	publishLastError string
}

func (h *health) spoolError(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.spoolErrors++
	h.spoolLastError = err.Error()
}

func (h *health) direct() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.directs++
}

func (h *health) published(err error) {
	if err == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if errors.Is(err, messaging.ErrUnroutable) {
		h.unroutable++
	}
	h.publishLastError = err.Error()
}

func (h *health) fill(hb *agentmsg.Heartbeat) {
	h.mu.Lock()
	defer h.mu.Unlock()
	hb.SpoolErrors, hb.SpoolLastError, hb.PublishedDirect = h.spoolErrors, h.spoolLastError, h.directs
	hb.Unroutable, hb.PublishLastError = h.unroutable, h.publishLastError
}
