// Package collector is vmmon-collector: it consumes what the agents publish
// (sample batches, heartbeats, lifecycle events) and Nova's notifications
// (versioned instance.* and legacy compute.instance.*), pairs samples with
// what it knows of each instance (project, host), and writes measures,
// instances, events and host status through the storage interface.
//
// It acknowledges a message only once what it implies is stored; a storage
// outage holds the message (and so stops consumption) until storage is back;
// a message it cannot decode is rejected to the parking queue. Any number of
// collectors share the queues: writes are idempotent and keyed by sample time.
package collector

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/storage"
)

// Store is the part of storage the collector uses: the writes a delivery
// implies, the reads that pair it with what is known, and rollup processing.
// Every storage.Store is one.
type Store interface {
	WriteSamples(ctx context.Context, samples []storage.Sample) error
	ProcessRollups(ctx context.Context, limit int) (int, error)
	PutInstance(ctx context.Context, inst storage.Instance) error
	GetInstance(ctx context.Context, id string) (storage.Instance, error)
	AddEvent(ctx context.Context, e storage.Event) error
	PutHeartbeat(ctx context.Context, h storage.Host) error
	RecordBatch(ctx context.Context, host, stream string, seq uint64, at time.Time) error
	ActionByRequestID(ctx context.Context, requestID string) (storage.Action, error)
	UpdateAction(ctx context.Context, a storage.Action) error
}

var _ Store = storage.Store(nil)

// Collector handles deliveries. It is safe for concurrent use.
type Collector struct {
	store Store
	log   *slog.Logger
	now   func() time.Time
	// RetryWait is the first wait before retrying a failed write (doubling to 30 s).
	RetryWait time.Duration

	mu    sync.Mutex
	stats Stats
	// instances caches what is known of instances for pairing batches.
	instances map[string]cachedInstance
}

type cachedInstance struct {
	inst storage.Instance
	at   time.Time
}

// InstanceCacheTime bounds how long a batch may be paired with what another
// collector's notification has since changed.
const InstanceCacheTime = 10 * time.Second

// Stats counts what the collector did, for logs and tests.
type Stats struct {
	Batches, Samples, Heartbeats, AgentEvents, NovaEvents, Ignored, Parked, HostMismatch, StorageRetries int
}

// New returns a collector writing to store.
func New(store Store, log *slog.Logger) *Collector {
	if log == nil {
		log = slog.Default()
	}
	return &Collector{store: store, log: log, now: time.Now, RetryWait: 500 * time.Millisecond, instances: map[string]cachedInstance{}}
}

// Stats returns a copy of the counters.
func (c *Collector) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

func (c *Collector) count(f func(*Stats)) {
	c.mu.Lock()
	f(&c.stats)
	c.mu.Unlock()
}

// errPark marks a message that can never be handled.
var errPark = errors.New("cannot be handled")

// durably runs write until it succeeds or ctx ends: a storage outage holds the
// delivery (unacknowledged) instead of losing or spinning on it.
func (c *Collector) durably(ctx context.Context, what string, write func(context.Context) error) error {
	wait := c.RetryWait
	for attempt := 0; ; attempt++ {
		err := write(ctx)
		if err == nil {
			if attempt > 0 {
				c.log.Info("storage writes succeed again", "what", what, "attempts", attempt+1)
			}
			return nil
		}
		if errors.Is(err, errPark) || errors.Is(err, storage.ErrInvalid) {
			return err
		}
		if attempt == 0 {
			c.log.Warn("storage write failed; holding the message and retrying", "what", what, "error", err)
		}
		c.count(func(s *Stats) { s.StorageRetries++ })
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 30*time.Second)
	}
}

// outcome turns a handler's error into what happens to the delivery.
func (c *Collector) outcome(ctx context.Context, d messaging.Delivery, err error) messaging.Outcome {
	switch {
	case err == nil:
		return messaging.Ack
	case ctx.Err() != nil:
		return messaging.Requeue
	default:
		c.count(func(s *Stats) { s.Parked++ })
		body := d.Body
		if len(body) > 200 {
			body = body[:200]
		}
		c.log.Error("parking a message that cannot be handled", "exchange", d.Exchange, "routing_key", d.RoutingKey,
			"error", err, "body_start", string(body))
		return messaging.Reject
	}
}

// HandleNova handles one of Nova's notifications.
func (c *Collector) HandleNova(ctx context.Context, d messaging.Delivery) messaging.Outcome {
	m, err := messaging.Decode(d.Body)
	if err != nil {
		return c.outcome(ctx, d, err)
	}
	u, err := parseNova(m)
	if errors.Is(err, errIgnore) {
		c.count(func(s *Stats) { s.Ignored++ })
		c.log.Debug("ignoring a notification", "event_type", m.EventType)
		return messaging.Ack
	}
	if err != nil {
		// A payload version this vmmon does not understand: log it and go on.
		c.count(func(s *Stats) { s.Ignored++ })
		c.log.Warn("ignoring a notification vmmon cannot read", "event_type", m.EventType, "error", err)
		return messaging.Ack
	}
	err = c.durably(ctx, m.EventType, func(ctx context.Context) error {
		if err := c.store.PutInstance(ctx, u.inst); err != nil {
			return err
		}
		c.forgetInstance(u.inst.ID)
		if err := c.store.AddEvent(ctx, u.event); err != nil {
			return err
		}
		return c.completeAction(ctx, m.EventType, u)
	})
	if err == nil {
		c.count(func(s *Stats) { s.NovaEvents++ })
	}
	return c.outcome(ctx, d, err)
}

// completeAction marks the action Nova's request id belongs to as done or
// failed when its .end or .error notification arrives.
func (c *Collector) completeAction(ctx context.Context, eventType string, u novaUpdate) error {
	ids := []string{}
	if g := u.globalRequestID; g != "" {
		ids = append(ids, g)
	}
	if u.event.RequestID != "" {
		ids = append(ids, u.event.RequestID)
	}
	if len(ids) == 0 {
		return nil
	}
	status := ""
	switch {
	case strings.HasSuffix(eventType, ".end"), eventType == "instance.lock", eventType == "instance.unlock":
		status = "succeeded"
	case strings.HasSuffix(eventType, ".error"):
		status = "failed"
	default:
		return nil
	}
	var a storage.Action
	err := storage.ErrNotFound
	for _, id := range ids {
		if a, err = c.store.ActionByRequestID(ctx, id); !errors.Is(err, storage.ErrNotFound) {
			break
		}
	}
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if a.Status != "pending" || a.InstanceID != u.inst.ID {
		return nil
	}
	a.Status, a.Message, a.UpdatedAt = status, u.event.Fault, u.event.Time
	if a.Message == "" {
		a.Message = eventType
	}
	return c.store.UpdateAction(ctx, a)
}
