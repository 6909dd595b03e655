// Package collector is vmmon-collector: it consumes what the agents publish
// (sample batches, heartbeats, lifecycle events) and Nova's notifications
// (versioned instance.* and legacy compute.instance.*), pairs samples with
// what it knows of each instance (project, host), and writes measures,
// instances, events and host status through the storage interface.
//
// It acknowledges a message only once what it implies is stored. A storage
// outage (any error but a refusal) holds the message, retrying, until storage
// is back; a shutdown meanwhile gives it back to the broker. Any number of
// collectors share the queues: writes are idempotent and keyed by sample time.
//
// # Poison
//
// A message that can never be written is parked, never retried: it is
// rejected to the parking queue, logged with its reason and counted by
// reason (vmmon_collector_parked_total). That is a message that cannot be
// decoded, of an unknown payload version or routing key, one that fails
// validation, one storage refuses for what it holds (storage.ErrInvalid, or a
// request Cassandra rejects as invalid: a key or batch too large, ...), and
// one whose handling panics (the stack is logged; the worker goes on).
//
// Validation, before anything is written: instance UUIDs must be canonical
// (8-4-4-4-12 hex digits; they are stored lower-case); host, stream, metric,
// device, project and user names 1 to 255 bytes of printable ASCII without
// space, '/' or '\'; names shown to people, states and units valid UTF-8
// without control characters, within 1 KiB; values finite and within
// ±1e300; counts not negative; timestamps of samples and events neither
// older than Limits.MaxAge (the raw retention) nor more than
// Limits.MaxFuture (1 hour) ahead of the collector's clock; a Nova fault is
// clipped to 4 KiB.
//
// A batch is refused whole when what identifies it (host, stream, sequence
// number, time) is invalid. Otherwise its invalid instances and invalid
// metrics are left out, logged (one line per batch) and counted
// (vmmon_collector_dropped_total), and the rest is stored: one bad metric
// does not cost a host its other points. A batch left with nothing (every
// instance, or every metric, invalid) is parked; its sequence number is then
// not recorded, so the host shows the loss in its seq_gaps. A heartbeat,
// lifecycle event or Nova notification is about one thing, so any invalid
// field parks it.
//
// # Clock skew
//
// The time of a heartbeat (published directly, never spooled) minus the
// collector's clock is the agent's clock skew, exported per host
// (vmmon_collector_agent_clock_skew_seconds). Beyond Limits.MaxClockSkew it
// is stored on the host (storage.Host.ClockSkew, clock_skew_s in /v1/hosts),
// and the heartbeat is timed by the collector's clock, so that the host's
// status and the order of its heartbeats stay right; within it, the host's
// skew is cleared. Batches may arrive late (spooled), so only those ahead of
// the collector's clock by more than MaxClockSkew are counted as skewed, and
// their arrival is recorded at the collector's time. Samples keep the
// agent's times: rollups of buckets still ahead of the collector's clock are
// computed once those buckets close (see storage/cassandra ProcessRollups).
//
// # Metrics
//
// The collector keeps Prometheus figures in a registry of its own
// (Registry, MetricsHandler): deliveries by outcome, parked messages and
// dropped items by reason, storage retries by reason, write durations,
// rollups processed and how far they lag, and per host the clock skew and
// (read from storage when scraped) sequence gaps.
package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/storage"
)

// Store is the part of storage the collector uses: the writes a delivery
// implies, the reads that pair it with what is known, rollup processing, and
// the hosts its metrics report on. Every storage.Store is one.
type Store interface {
	WriteSamples(ctx context.Context, samples []storage.Sample) error
	ProcessRollups(ctx context.Context, limit int) (int, error)
	PutInstance(ctx context.Context, inst storage.Instance) error
	GetInstance(ctx context.Context, id string) (storage.Instance, error)
	AddEvent(ctx context.Context, e storage.Event) error
	PutHeartbeat(ctx context.Context, h storage.Host) error
	RecordBatch(ctx context.Context, host, stream string, seq uint64, at time.Time) error
	ListHosts(ctx context.Context) ([]storage.Host, error)
	ActionByRequestID(ctx context.Context, requestID string) (storage.Action, error)
	UpdateAction(ctx context.Context, a storage.Action) error
}

var _ Store = storage.Store(nil)

// Collector handles deliveries. It is safe for concurrent use.
type Collector struct {
	store Store
	log   *slog.Logger
	now   func() time.Time
	m     *metrics
	// RetryWait is the first wait before retrying a failed write (doubling to 30 s).
	RetryWait time.Duration
	// Limits bound what is accepted (DefaultLimits unless changed before Run).
	Limits Limits

	mu    sync.Mutex
	stats Stats
	// instances caches what is known of instances for pairing batches.
	instances map[string]cachedInstance
	// skewed holds the hosts whose clock skew this collector last found
	// beyond the limit, to log changes only.
	skewed map[string]bool
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
	// Dropped counts invalid instances and metrics left out of stored
	// batches; Panics the deliveries whose handling panicked (parked too).
	Dropped, Panics int
}

// New returns a collector writing to store.
func New(store Store, log *slog.Logger) *Collector {
	if log == nil {
		log = slog.Default()
	}
	m := newMetrics(store)
	return &Collector{store: timedStore{Store: store, h: m.writes}, log: log, now: time.Now, m: m, RetryWait: 500 * time.Millisecond,
		Limits: DefaultLimits, instances: map[string]cachedInstance{}, skewed: map[string]bool{}}
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

// durably runs write until it succeeds or ctx ends: a storage outage holds the
// delivery (unacknowledged) instead of losing or spinning on it. A write
// storage refuses for what it holds is not retried.
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
		var pe *parkError
		if errors.As(err, &pe) {
			return err
		}
		if refused(err) {
			return parkWith(reasonStorage, fmt.Errorf("storage refused the write: %w", err))
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt == 0 {
			c.log.Warn("storage write failed; holding the message and retrying", "what", what, "error", err)
		}
		c.count(func(s *Stats) { s.StorageRetries++ })
		c.m.retries.WithLabelValues(retryReason(err)).Inc()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 30*time.Second)
	}
}

// requestError is how the Cassandra driver (gocql) reports an error the
// server answered with: its protocol error code and message.
type requestError interface {
	Code() int
	Message() string
}

// Cassandra's native protocol error codes that decide what a failed write is.
const (
	cqlUnavailable  = 0x1000
	cqlOverloaded   = 0x1001
	cqlWriteTimeout = 0x1100
	cqlReadTimeout  = 0x1200
	cqlReadFailure  = 0x1300
	cqlWriteFailure = 0x1500
	cqlSyntax       = 0x2000
	cqlInvalid      = 0x2200
)

// refused reports whether storage refused a write for what it holds, so that
// retrying cannot help: storage.ErrInvalid, or a request Cassandra rejects as
// invalid (a key or batch too large, a value it cannot take), except for a
// keyspace or table that does not exist, which vmmon-manage db sync may yet
// create.
func refused(err error) bool {
	if errors.Is(err, storage.ErrInvalid) {
		return true
	}
	var re requestError
	if !errors.As(err, &re) || re.Code() != cqlInvalid && re.Code() != cqlSyntax {
		return false
	}
	msg := strings.ToLower(re.Message())
	return !strings.Contains(msg, "unconfigured table") && !strings.Contains(msg, "does not exist") &&
		!strings.Contains(msg, "keyspace")
}

// retryReason names, for metrics, why a write failed and is retried.
func retryReason(err error) string {
	var (
		re requestError
		ne net.Error
	)
	switch {
	case errors.As(err, &re):
		switch re.Code() {
		case cqlUnavailable:
			return "unavailable"
		case cqlOverloaded:
			return "overloaded"
		case cqlWriteTimeout, cqlReadTimeout:
			return "timeout"
		case cqlReadFailure, cqlWriteFailure:
			return "failure"
		}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case strings.Contains(err.Error(), "no hosts available"), strings.Contains(err.Error(), "connection refused"):
		return "unavailable"
	}
	return "error"
}

// outcome turns a handler's error into what happens to the delivery.
func (c *Collector) outcome(ctx context.Context, queue string, d messaging.Delivery, err error) messaging.Outcome {
	var pe *parkError
	switch {
	case err == nil:
		c.m.deliveries.WithLabelValues(queue, "acked").Inc()
		return messaging.Ack
	case ctx.Err() != nil && !errors.As(err, &pe):
		// Shutting down with the write not done: another collector will.
		c.m.deliveries.WithLabelValues(queue, "requeued").Inc()
		return messaging.Requeue
	default:
		reason := reasonOf(err)
		c.count(func(s *Stats) { s.Parked++ })
		c.m.deliveries.WithLabelValues(queue, "parked").Inc()
		c.m.parked.WithLabelValues(queue, reason).Inc()
		body := d.Body
		if len(body) > 200 {
			body = body[:200]
		}
		c.log.Error("parking a message that cannot be handled", "exchange", d.Exchange, "routing_key", d.RoutingKey,
			"reason", reason, "error", err, "body_start", string(body))
		return messaging.Reject
	}
}

// survive parks a delivery whose handling panicked, logging the stack; the
// worker goes on with the next delivery. It must be deferred by the handler.
func (c *Collector) survive(queue string, d messaging.Delivery, out *messaging.Outcome) {
	v := recover()
	if v == nil {
		return
	}
	c.count(func(s *Stats) { s.Panics++ })
	c.log.Error("handling a message panicked", "routing_key", d.RoutingKey, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	*out = c.outcome(context.Background(), queue, d, park(reasonPanic, "handling the message panicked: %v", v))
}

// HandleNova handles one of Nova's notifications.
func (c *Collector) HandleNova(ctx context.Context, d messaging.Delivery) (out messaging.Outcome) {
	defer c.survive(queueNova, d, &out)
	m, err := messaging.Decode(d.Body)
	if err != nil {
		return c.outcome(ctx, queueNova, d, parkWith(reasonUndecodable, err))
	}
	u, err := parseNova(m)
	if errors.Is(err, errIgnore) {
		c.ignored()
		c.log.Debug("ignoring a notification", "event_type", m.EventType)
		return messaging.Ack
	}
	if err != nil {
		// A payload version this vmmon does not understand: log it and go on.
		c.ignored()
		c.log.Warn("ignoring a notification vmmon cannot read", "event_type", m.EventType, "error", err)
		return messaging.Ack
	}
	if v := c.Limits.validNova(&u, c.now()); v != nil {
		return c.outcome(ctx, queueNova, d, parkWith(v.reason, fmt.Errorf("%s: %w", m.EventType, v)))
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
	return c.outcome(ctx, queueNova, d, err)
}

func (c *Collector) ignored() {
	c.count(func(s *Stats) { s.Ignored++ })
	c.m.deliveries.WithLabelValues(queueNova, "ignored").Inc()
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
