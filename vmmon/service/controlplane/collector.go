package controlplane

import (
	"context"
	"fmt"
	"os"

	"opendev.org/openstack/vmmon/vmmon/collector"
	"opendev.org/openstack/vmmon/vmmon/conf"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/service"
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

// RunCollector consumes the agents' messages and Nova's notifications into
// storage until ctx ends.
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
	log.Info("vmmon-collector starting", "transport_url", opts.URL.Redacted(), "storage", conf.Storage.Driver.Get(c))
	if err := collector.New(store, log).Run(ctx, opts, q); err != nil {
		return p.Fail(err)
	}
	return 0
}
