package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus/collectors"

	"opendev.org/openstack/vmmon/vmmon/collector"
	"opendev.org/openstack/vmmon/vmmon/conf"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/service"
	"opendev.org/openstack/vmmon/vmmon/storage/backend"
)

// QueuesFromConfig reads the [collector] and notification options.
func QueuesFromConfig(c *conf.Config) collector.Queues {
	return collector.Queues{
		Agent: conf.Collector.AgentQueue.Get(c), Nova: conf.Collector.NovaQueue.Get(c),
		Parking: conf.Collector.ParkingQueue.Get(c), ParkingMax: conf.Collector.ParkingMax.Get(c),
		AgentExchange: conf.Common.Exchange.Get(c), NovaExchange: conf.Notifications.NovaExchange.Get(c),
		NotificationTopics: conf.Notifications.Topics.Get(c), RollupInterval: conf.Collector.RollupInterval.Get(c),
		Workers: conf.Collector.Workers.Get(c),
	}
}

// LimitsFromConfig reads what the collector accepts: samples no older than
// the raw retention, and the [collector] max_clock_skew.
func LimitsFromConfig(c *conf.Config) collector.Limits {
	l := collector.DefaultLimits
	l.MaxAge = backend.Retention(c).Raw
	l.MaxClockSkew = conf.Collector.MaxClockSkew.Get(c)
	return l
}

// RunCollector consumes the agents' messages and Nova's notifications into
// storage until ctx ends, serving its figures on [collector] metrics_bind.
func RunCollector(ctx context.Context, p *service.Process) int {
	c, log := p.Config, p.Log
	host, _ := os.Hostname()
	opts, err := messaging.OptionsFromConfig(c, conf.Common.TransportURL, "vmmon-collector:"+host, log)
	if err != nil {
		return p.Fail(fmt.Errorf("[DEFAULT] transport_url: %w", err))
	}
	q := QueuesFromConfig(c)
	if c.IsSet(conf.Notifications.TransportURL.Opt) {
		no, err := messaging.OptionsFromConfig(c, conf.Notifications.TransportURL, "vmmon-collector:"+host, log)
		if err != nil {
			return p.Fail(fmt.Errorf("[oslo_messaging_notifications] transport_url: %w", err))
		}
		q.NovaOptions = &no
	}
	store, err := openStore(ctx, c)
	if err != nil {
		return p.Fail(err)
	}
	defer store.Close()
	col := collector.New(store, log)
	col.Limits = LimitsFromConfig(c)
	if addr := conf.Collector.MetricsBind.Get(c); addr != "" {
		stop, err := serveMetrics(addr, col, log)
		if err != nil {
			return p.Fail(fmt.Errorf("[collector] metrics_bind: %w", err))
		}
		defer stop()
		log.Info("vmmon-collector serving its metrics", "address", addr, "path", "/metrics")
	}
	log.Info("vmmon-collector starting", "transport_url", opts.URL.Redacted(), "storage", conf.Storage.Driver.Get(c))
	if err := col.Run(ctx, opts, q); err != nil {
		return p.Fail(err)
	}
	return 0
}

// serveMetrics serves the collector's registry, with the Go runtime's and
// the process's figures, at /metrics on addr until stop is called.
func serveMetrics(addr string, col *collector.Collector, log *slog.Logger) (stop func(), err error) {
	reg := col.Registry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", col.MetricsHandler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("the metrics server stopped", "error", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
