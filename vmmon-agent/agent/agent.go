// Package agent is vmmon-agent's cycle: every interval it reads all domains of
// the local hypervisor in one bulk call (per-domain calls where the driver's
// bulk call lacks a group), names them by Nova's metadata, turns the readings
// into metrics and publishes one batch, a heartbeat, and lifecycle events as
// they happen. Batches and events the broker does not confirm wait in an
// on-disk spool, so a broker outage loses nothing; every libvirt call has a
// timeout, so one stuck domain never stalls the host's report.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"opendev.org/openstack/vmmon/vmmon-agent/domxml"
	"opendev.org/openstack/vmmon/vmmon-agent/hypervisor"
	"opendev.org/openstack/vmmon/vmmon-agent/sampler"
	"opendev.org/openstack/vmmon/vmmon-agent/spool"
	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/version"
)

// Publisher sends an encoded message; *messaging.Publisher is one.
type Publisher interface {
	PublishBody(ctx context.Context, routingKey string, body []byte) error
}

// Config is what the agent needs to know.
type Config struct {
	Host       string
	LibvirtURI string
	Interval   time.Duration
	Timeout    time.Duration // for each libvirt call
	// Parallel bounds the per-domain fallback calls running at once.
	Parallel int
}

// ErrTimeout marks a libvirt call that did not return in time.
var ErrTimeout = errors.New("libvirt call timed out")

// Agent collects and publishes. Create it with New.
type Agent struct {
	cfg    Config
	dial   func(uri string) (hypervisor.Conn, error)
	pub    Publisher
	spool  *spool.Spool
	log    *slog.Logger
	start  time.Time // origin of the monotonic clock
	now    func() time.Time
	stream string

	mu       sync.Mutex // guards what the event goroutine shares
	conn     hypervisor.Conn
	connErr  error
	meta     map[string]*domxml.Domain
	inflight map[string]bool // domains with a libvirt call still running
	bulkBusy bool

	seq      uint64
	prev     map[string]*sampler.Reading
	lastDur  time.Duration
	timedOut int
	domains  int
	families []agentmsg.SamplerStatus
	scratch  []agentmsg.Metric // Collect's, for an instance's metrics
	pubDown  bool
	health   health
	stages   *stages // of the cycle running

	encMu sync.Mutex
	enc   messaging.Encoder // its buffer is reused from message to message
}

// stages times the steps of a cycle; steps run concurrently.
type stages struct {
	mu    sync.Mutex
	order []string
	by    map[string]*agentmsg.SamplerStatus
}

func newStages(names ...string) *stages {
	s := &stages{by: map[string]*agentmsg.SamplerStatus{}}
	for _, n := range names {
		s.order = append(s.order, n)
		s.by[n] = &agentmsg.SamplerStatus{Name: n}
	}
	return s
}

// add records one call of stage name that started at t0 and ended with err.
func (s *stages) add(name string, t0 time.Time, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.by[name]
	st.Calls++
	st.DurationMS += ms(time.Since(t0))
	if err != nil {
		st.Errors++
	}
}

func (s *stages) list() []agentmsg.SamplerStatus {
	out := make([]agentmsg.SamplerStatus, 0, len(s.order))
	for _, n := range s.order {
		st := *s.by[n]
		st.DurationMS = float64(int64(st.DurationMS*1000)) / 1000
		out = append(out, st)
	}
	return out
}

// New returns an agent. pub and sp may be nil (collection only, as --once).
func New(cfg Config, dial func(string) (hypervisor.Conn, error), pub Publisher, sp *spool.Spool, log *slog.Logger) *Agent {
	if cfg.Parallel <= 0 {
		cfg.Parallel = 8
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	return &Agent{
		cfg: cfg, dial: dial, pub: pub, spool: sp, log: log,
		start: time.Now(), now: time.Now, stream: messaging.NewUUID(),
		meta: map[string]*domxml.Domain{}, inflight: map[string]bool{}, prev: map[string]*sampler.Reading{},
	}
}

// mono is the agent's monotonic clock (Go's time.Since uses the monotonic reading).
func (a *Agent) mono() time.Duration { return time.Since(a.start) }

// within runs fn with the agent's timeout. A call that times out keeps
// running in the background; its result is dropped.
func within[T any](ctx context.Context, d time.Duration, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := fn()
		ch <- result{v, err}
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-t.C:
		var zero T
		return zero, ErrTimeout
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// connection returns a live libvirt connection, dialling when needed.
func (a *Agent) connection(ctx context.Context) (hypervisor.Conn, error) {
	a.mu.Lock()
	c := a.conn
	a.mu.Unlock()
	if c != nil && c.Alive() {
		return c, nil
	}
	if c != nil {
		go c.Close() // may block on a dead daemon
		a.log.Warn("libvirt connection lost; reconnecting", "uri", a.cfg.LibvirtURI)
	}
	nc, err := within(ctx, a.cfg.Timeout, func() (hypervisor.Conn, error) { return a.dial(a.cfg.LibvirtURI) })
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.conn, a.connErr = nil, err
		return nil, err
	}
	a.conn, a.connErr = nc, nil
	a.meta = map[string]*domxml.Domain{} // the daemon may have changed while we were away
	return nc, nil
}

// Collect runs one cycle and returns its batch (not yet published).
func (a *Agent) Collect(ctx context.Context) (*agentmsg.Batch, error) {
	b, rs, err := a.read(ctx)
	if err != nil {
		return nil, err
	}
	for i := range b.Instances {
		inst := &b.Instances[i]
		a.scratch = a.sample(rs[i], a.scratch[:0])
		inst.Metrics = append(inst.Metrics, a.scratch...) // a copy of just the right size
	}
	a.sampled()
	return b, nil
}

// readings are what one instance's metrics are made from: its reading this
// cycle (nil when it has none: shut off, or timed out) and the one before.
type readings struct{ cur, prev *sampler.Reading }

// lazy is the cycle's batch with metrics made while it is written: the
// previous readings are dropped as they are used, and a whole batch's metrics
// are never in memory at once. The caller writes it once, then calls
// sampled.
func (a *Agent) lazy(b *agentmsg.Batch, rs []readings) agentmsg.LazyBatch {
	return agentmsg.LazyBatch{Batch: b, Metrics: func(i int, dst []agentmsg.Metric) []agentmsg.Metric {
		r := rs[i]
		rs[i] = readings{}
		return a.sample(r, dst)
	}}
}

// sampled records, once the cycle's metrics are made, how long each family took.
func (a *Agent) sampled() { a.families = a.stages.list() }

// sample appends the metrics of r to dst, family by family, timing each.
func (a *Agent) sample(r readings, dst []agentmsg.Metric) []agentmsg.Metric {
	if r.cur == nil {
		return dst
	}
	for _, f := range sampler.Families {
		ft := time.Now()
		dst = f.Sample(r.cur, r.prev, dst)
		a.stages.add(f.Name(), ft, nil)
	}
	return dst
}

// read runs the cycle's libvirt calls: it returns the batch without the
// metrics, and what each instance's are made from.
func (a *Agent) read(ctx context.Context) (*agentmsg.Batch, []readings, error) {
	t0 := time.Now()
	names := []string{"libvirt.list", "libvirt.xml", "libvirt.bulk", "libvirt.domain"}
	for _, f := range sampler.Families {
		names = append(names, f.Name())
	}
	a.stages = newStages(names...)
	conn, err := a.connection(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to libvirt at %s: %w", a.cfg.LibvirtURI, err)
	}
	// The bulk call lists every domain, running or not, with its state: its
	// answer is the list. Only when it fails are domains listed apart.
	bulk, refs := a.bulk(ctx, conn)
	if bulk == nil {
		lt := time.Now()
		refs, err = within(ctx, a.cfg.Timeout, conn.ListDomains)
		a.stages.add("libvirt.list", lt, err)
		if err != nil {
			return nil, nil, fmt.Errorf("listing domains: %w", err)
		}
	}
	a.refreshMeta(ctx, conn, refs)

	var (
		resMu     sync.Mutex
		instances = make([]agentmsg.Instance, 0, len(refs))
		current   = map[string]*sampler.Reading{}
		timedOut  int
	)
	// Parallel goroutines read the domains: a domain that fails is left out
	// of the batch and never stops the others.
	todo := make(chan hypervisor.DomainRef)
	var wg sync.WaitGroup
	for range min(a.cfg.Parallel, len(refs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ref := range todo {
				inst, reading, ok := a.instance(ctx, conn, ref, bulk)
				if !ok {
					continue
				}
				resMu.Lock()
				if inst.TimedOut {
					timedOut++
				}
				if reading != nil {
					current[inst.UUID] = reading
				}
				instances = append(instances, inst)
				resMu.Unlock()
			}
		}()
	}
	for _, ref := range refs {
		todo <- ref
	}
	close(todo)
	wg.Wait()
	sort.Slice(instances, func(i, j int) bool { return instances[i].UUID < instances[j].UUID })
	rs := make([]readings, len(instances))
	for i := range instances {
		if cur := current[instances[i].UUID]; cur != nil {
			rs[i] = readings{cur: cur, prev: a.prev[instances[i].UUID]}
		}
	}
	// A domain timed out this cycle keeps its older reading for the next rate.
	for uuid, r := range a.prev {
		if _, ok := current[uuid]; !ok && a.isInflight(uuid) {
			current[uuid] = r
		}
	}
	a.prev = current

	a.seq++
	dur := time.Since(t0)
	a.lastDur, a.timedOut, a.domains = dur, timedOut, len(instances)
	return &agentmsg.Batch{
		Host: a.cfg.Host, Stream: a.stream, Seq: a.seq, AgentVersion: version.Version,
		Time: a.now().UTC(), Interval: a.cfg.Interval.Seconds(), DurationMS: ms(dur), Instances: instances,
	}, rs, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
