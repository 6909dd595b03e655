package collector

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// Queue labels of the collector's metrics.
const (
	queueAgent = "agent"
	queueNova  = "notifications"
)

// metrics are the collector's own figures, in a registry of its own.
type metrics struct {
	reg        *prometheus.Registry
	deliveries *prometheus.CounterVec   // queue, outcome
	parked     *prometheus.CounterVec   // queue, reason
	dropped    *prometheus.CounterVec   // item, reason
	retries    *prometheus.CounterVec   // reason
	writes     *prometheus.HistogramVec // operation
	samples    prometheus.Counter
	skewed     *prometheus.CounterVec // kind
	skew       *prometheus.GaugeVec   // host
	rollups    prometheus.Counter
	passes     *prometheus.CounterVec // result
	drained    prometheus.Gauge
}

func newMetrics(store Store) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vmmon_collector_deliveries_total",
			Help: "Messages handled, by queue (agent, notifications) and outcome: acked (stored), ignored (not about an " +
				"instance), parked (rejected to the parking queue), requeued (given back at shutdown)."}, []string{"queue", "outcome"}),
		parked: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vmmon_collector_parked_total",
			Help: "Messages parked because they can never be written, by queue and reason."}, []string{"queue", "reason"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vmmon_collector_dropped_total",
			Help: "Invalid instances and metrics left out of batches whose other contents were stored, by item and reason."},
			[]string{"item", "reason"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vmmon_collector_storage_retries_total",
			Help: "Storage writes retried while the message was held, by reason (unavailable, timeout, overloaded, failure, error)."},
			[]string{"reason"}),
		writes: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vmmon_collector_storage_write_duration_seconds",
			Help:    "Time of storage writes (successful or not), by operation.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"operation"}),
		samples: prometheus.NewCounter(prometheus.CounterOpts{Name: "vmmon_collector_samples_stored_total",
			Help: "Points written from agents' batches."}),
		skewed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vmmon_collector_clock_skewed_messages_total",
			Help: "Heartbeats, and batches ahead of the collector's clock, whose time is off by more than [collector] max_clock_skew."},
			[]string{"kind"}),
		skew: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vmmon_collector_agent_clock_skew_seconds",
			Help: "The agent's clock minus this collector's, measured on the last heartbeat this collector handled."}, []string{"host"}),
		rollups: prometheus.NewCounter(prometheus.CounterOpts{Name: "vmmon_collector_rollups_processed_total",
			Help: "Rollup buckets computed."}),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vmmon_collector_rollup_passes_total",
			Help: "Passes over pending rollups, by result (ok, error)."}, []string{"result"}),
		drained: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vmmon_collector_rollup_drained_timestamp_seconds",
			Help: "When a pass last found no rollup pending: now minus this is how far rollups lag."}),
	}
	m.reg.MustRegister(m.deliveries, m.parked, m.dropped, m.retries, m.writes, m.samples, m.skewed, m.skew, m.rollups,
		m.passes, m.drained, &hostMetrics{store: store})
	return m
}

// hostMetrics reads each agent's sequence gaps from storage (where every
// collector's batches are counted) when scraped, at most every
// hostMetricsRefresh.
type hostMetrics struct {
	store Store

	mu    sync.Mutex
	at    time.Time
	hosts []storage.Host
}

const hostMetricsRefresh = 30 * time.Second

var (
	gapsDesc = prometheus.NewDesc("vmmon_collector_agent_sequence_gaps",
		"Batches of the agent's current stream that never arrived (over the last 24 hours), as storage counts them.", []string{"host"}, nil)
	lastSeqDesc = prometheus.NewDesc("vmmon_collector_agent_last_sequence",
		"Highest sequence number stored from the agent's current stream.", []string{"host"}, nil)
	heartbeatDesc = prometheus.NewDesc("vmmon_collector_agent_last_heartbeat_timestamp_seconds",
		"Time of the agent's last heartbeat stored (the collector's clock when the agent's is skewed).", []string{"host"}, nil)
)

func (h *hostMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- gapsDesc
	ch <- lastSeqDesc
	ch <- heartbeatDesc
}

func (h *hostMetrics) Collect(ch chan<- prometheus.Metric) {
	h.mu.Lock()
	if time.Since(h.at) > hostMetricsRefresh {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if hosts, err := h.store.ListHosts(ctx); err == nil {
			h.hosts, h.at = hosts, time.Now()
		}
		cancel()
	}
	hosts := h.hosts
	h.mu.Unlock()
	for _, host := range hosts {
		ch <- prometheus.MustNewConstMetric(gapsDesc, prometheus.GaugeValue, float64(host.SeqGaps), host.Name)
		ch <- prometheus.MustNewConstMetric(lastSeqDesc, prometheus.GaugeValue, float64(host.LastSeq), host.Name)
		if !host.LastHeartbeat.IsZero() {
			ch <- prometheus.MustNewConstMetric(heartbeatDesc, prometheus.GaugeValue, float64(host.LastHeartbeat.UnixMilli())/1e3, host.Name)
		}
	}
}

// Registry is the collector's own registry (vmmon_collector_* figures); the
// caller may add others (Go runtime, process) before serving it.
func (c *Collector) Registry() *prometheus.Registry { return c.m.reg }

// MetricsHandler serves the registry as Prometheus text.
func (c *Collector) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(c.m.reg, promhttp.HandlerOpts{Registry: c.m.reg})
}

// timedStore times the writes of a Store.
type timedStore struct {
	Store
	h *prometheus.HistogramVec
}

func (s timedStore) since(op string, t0 time.Time) {
	s.h.WithLabelValues(op).Observe(time.Since(t0).Seconds())
}

func (s timedStore) WriteSamples(ctx context.Context, samples []storage.Sample) error {
	defer s.since("write_samples", time.Now())
	return s.Store.WriteSamples(ctx, samples)
}

func (s timedStore) PutInstance(ctx context.Context, inst storage.Instance) error {
	defer s.since("put_instance", time.Now())
	return s.Store.PutInstance(ctx, inst)
}

func (s timedStore) AddEvent(ctx context.Context, e storage.Event) error {
	defer s.since("add_event", time.Now())
	return s.Store.AddEvent(ctx, e)
}

func (s timedStore) PutHeartbeat(ctx context.Context, h storage.Host) error {
	defer s.since("put_heartbeat", time.Now())
	return s.Store.PutHeartbeat(ctx, h)
}

func (s timedStore) RecordBatch(ctx context.Context, host, stream string, seq uint64, at time.Time) error {
	defer s.since("record_batch", time.Now())
	return s.Store.RecordBatch(ctx, host, stream, seq, at)
}

func (s timedStore) UpdateAction(ctx context.Context, a storage.Action) error {
	defer s.since("update_action", time.Now())
	return s.Store.UpdateAction(ctx, a)
}
