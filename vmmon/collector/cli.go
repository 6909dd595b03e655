package collector

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"opendev.org/openstack/vmmon/vmmon/conf"
	"opendev.org/openstack/vmmon/vmmon/logging"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/storage/backend"
)

// QueuesFromConfig reads the [collector] and notification options.
func QueuesFromConfig(c *conf.Config) Queues {
	return Queues{
		Agent: conf.Collector.AgentQueue.Get(c), Nova: conf.Collector.NovaQueue.Get(c),
		Parking: conf.Collector.ParkingQueue.Get(c), ParkingMax: conf.Collector.ParkingMax.Get(c),
		AgentExchange: conf.Common.Exchange.Get(c), NovaExchange: conf.Notifications.NovaExchange.Get(c),
		NotificationTopics: conf.Notifications.Topics.Get(c), RollupInterval: conf.Collector.RollupInterval.Get(c),
		Workers: conf.Collector.Workers.Get(c),
	}
}

// Main runs vmmon-collector and returns the exit status.
func Main(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("vmmon-collector", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := conf.AddFlags(fs, "/etc/vmmon/vmmon.conf")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int { fmt.Fprintf(stderr, "vmmon-collector: %v\n", err); return 1 }
	c, err := conf.Load(cf.Sources())
	if err != nil {
		return fail(err)
	}
	log, closeLog, err := logging.New(c, "vmmon-collector", stderr)
	if err != nil {
		return fail(err)
	}
	defer closeLog()
	c.Log(log)
	host, _ := os.Hostname()
	opts, err := messaging.OptionsFromConfig(c, conf.Common.TransportURL, "vmmon-collector:"+host, log)
	if err != nil {
		return fail(fmt.Errorf("[DEFAULT] transport_url: %w", err))
	}
	q := QueuesFromConfig(c)
	if c.IsSet(conf.Notifications.TransportURL.Opt) {
		no, err := messaging.OptionsFromConfig(c, conf.Notifications.TransportURL, "vmmon-collector:"+host, log)
		if err != nil {
			return fail(fmt.Errorf("[oslo_messaging_notifications] transport_url: %w", err))
		}
		q.NovaOptions = &no
	}
	store, err := backend.Open(ctx, c)
	if err != nil {
		return fail(err)
	}
	defer store.Close()
	have, want, err := store.SchemaVersion(ctx)
	if err != nil {
		return fail(err)
	}
	if have != want {
		return fail(fmt.Errorf("storage schema is at version %d, this vmmon needs %d: run vmmon-manage db sync", have, want))
	}
	log.Info("vmmon-collector starting", "transport_url", opts.URL.Redacted(), "storage", conf.Storage.Driver.Get(c))
	if err := New(store, log).Run(ctx, opts, q); err != nil {
		return fail(err)
	}
	return 0
}
