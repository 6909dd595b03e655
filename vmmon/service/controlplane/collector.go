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

	"opendev.org/openstack/vmmon/vmmon/actions"
	"opendev.org/openstack/vmmon/vmmon/alarms"
	"opendev.org/openstack/vmmon/vmmon/collector"
	"opendev.org/openstack/vmmon/vmmon/conf"
	"opendev.org/openstack/vmmon/vmmon/livestream"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/service"
	"opendev.org/openstack/vmmon/vmmon/storage/backend"
	"opendev.org/openstack/vmmon/vmmon/trusts"
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
	if conf.Alarms.Evaluate.Get(c) {
		stop := runAlarms(ctx, c, opts, store, host, log)
		defer stop()
	}
	if err := col.Run(ctx, opts, q); err != nil {
		return p.Fail(err)
	}
	return 0
}

// runAlarms evaluates the alarms of the shards this collector leases, from
// a queue of its own bound to the agents' samples (each collector sees
// every batch, as vmmon-api's live stream does), until stop is called.
func runAlarms(ctx context.Context, c *conf.Config, opts messaging.Options, store backend.Store, host string, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	notifier := messaging.NewPublisher(opts, messaging.Exchange{Name: conf.Common.Exchange.Get(c)})
	topic := conf.Alarms.NotifyTopic.Get(c) + ".info"
	runner := &alarms.Actions{HTTP: &http.Client{Timeout: conf.Alarms.WebhookTimeout.Get(c)}, PublisherID: "vmmon-collector:" + host,
		Notify: func(ctx context.Context, m *messaging.Message) error {
			err := notifier.Publish(ctx, topic, m)
			if errors.Is(err, messaging.ErrUnroutable) {
				return nil // as oslo.messaging: a notification no one listens to is dropped
			}
			return err
		}}
	runner.Instance = instanceActions(c, store)
	// Each transition of an instance's alarm goes to the live streams of
	// vmmon-api (alarms.<id> on the exchange), which a stream shows as an
	// "alarm" event; no one listening is no error.
	live := func(t alarms.Transition) {
		if t.Alarm.InstanceID == "" {
			return
		}
		m, err := messaging.NewMessage("vmmon-collector:"+host, livestream.AlarmEvent, "INFO", t.Payload())
		if err != nil {
			return
		}
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		defer pcancel()
		if err := notifier.Publish(pctx, livestream.AlarmKind+"."+t.Alarm.ID, m); err != nil && !errors.Is(err, messaging.ErrUnroutable) {
			log.Warn("alarm transition not sent to live streams", "alarm_id", t.Alarm.ID, "error", err)
		}
	}
	engine := alarms.NewEngine(store, alarms.EngineConfig{LeaseTTL: conf.Alarms.LeaseTTL.Get(c),
		Refresh: conf.Alarms.RefreshInterval.Get(c), Actions: runner, Attempts: conf.Alarms.ActionAttempts.Get(c), OnTransition: live},
		log.With("part", "alarms"))
	queue := messaging.NewConsumer(opts, messaging.Queue{Name: fmt.Sprintf("vmmon-collector-alarms.%s.%d", host, os.Getpid()), Transient: true,
		Bindings: []messaging.Binding{{Exchange: messaging.Exchange{Name: conf.Common.Exchange.Get(c)}, RoutingKeys: []string{"samples.*"}}}})
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		if err := queue.Run(ctx, engine.HandleDelivery); err != nil && ctx.Err() == nil {
			log.Error("alarm evaluation: the samples queue stopped", "error", err)
		}
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		_ = engine.Run(ctx)
	}()
	log.Info("vmmon-collector evaluating alarms", "lease_ttl", conf.Alarms.LeaseTTL.Get(c), "refresh", conf.Alarms.RefreshInterval.Get(c))
	return func() {
		cancel()
		<-done
		<-done
		notifier.Close()
	}
}

// instanceActions carries out alarms' instance actions with their Keystone
// trusts, which the vmmon service user ([keystone_authtoken]) consumes;
// nil (such actions fail) without Keystone.
func instanceActions(c *conf.Config, store backend.Store) alarms.Runner {
	a := conf.Authtoken
	if conf.Common.AuthStrategy.Get(c) != "keystone" || a.Password.Get(c) == "" {
		return nil
	}
	return &alarms.InstanceActions{
		Trusts: &trusts.Credentials{AuthURL: a.AuthURL.Get(c), Username: a.Username.Get(c), Password: a.Password.Get(c),
			UserDomainName: a.UserDomainName.Get(c), Region: a.RegionName.Get(c), Interface: a.Interface.Get(c)},
		Actions:   &actions.Runner{Store: store, Now: time.Now, Timeout: conf.Nova.ActionTimeout.Get(c)},
		Instances: store,
	}
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
