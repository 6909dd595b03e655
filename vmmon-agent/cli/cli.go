// Package cli is the vmmon-agent command: booted by package service, it wires
// the agent to libvirt, its spool and RabbitMQ.
package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"opendev.org/openstack/vmmon/vmmon-agent/agent"
	"opendev.org/openstack/vmmon/vmmon-agent/footprint"
	"opendev.org/openstack/vmmon/vmmon-agent/hypervisor"
	"opendev.org/openstack/vmmon/vmmon-agent/spool"
	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/conf"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/service"
)

// DefaultConfigFile is read when no --config-file is given.
const DefaultConfigFile = "/etc/vmmon/vmmon-agent.conf"

// Main runs vmmon-agent with args (without the program name) and returns the
// exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var once bool
	return service.Boot(ctx, "vmmon-agent", args, stderr,
		func(ctx context.Context, p *service.Process) int { return run(ctx, p, once, stdout) },
		service.ConfigFile(DefaultConfigFile),
		service.Flags(func(fs *flag.FlagSet) {
			fs.BoolVar(&once, "once", false, "collect once, print the batch as JSON on standard output and exit (no broker needed)")
		}))
}

// run collects once onto stdout, or runs the agent until ctx ends.
func run(ctx context.Context, p *service.Process, once bool, stdout io.Writer) int {
	c, log := p.Config, p.Log
	host := conf.Agent.Host.Get(c)
	if host == "" {
		var err error
		if host, err = os.Hostname(); err != nil {
			return p.Fail(fmt.Errorf("[agent] host is empty and the host name is unknown: %w", err))
		}
	}
	cfg := agent.Config{
		Host: host, LibvirtURI: conf.Agent.LibvirtURI.Get(c),
		Interval: conf.Agent.Interval.Get(c), Timeout: conf.Agent.LibvirtTimeout.Get(c),
	}
	if once {
		a := agent.New(cfg, hypervisor.Dial, nil, nil, log)
		b, err := a.Collect(ctx)
		if err != nil {
			return p.Fail(err)
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(b); err != nil {
			return 1
		}
		return 0
	}
	sp, err := spool.Open(conf.Agent.SpoolDir.Get(c), int64(conf.Agent.SpoolMaxBytes.Get(c)))
	if err != nil {
		return p.Fail(fmt.Errorf("[agent] spool_dir: %w", err))
	}
	opts, err := messaging.OptionsFromConfig(c, conf.Common.TransportURL, agentmsg.PublisherID(host), log)
	if err != nil {
		return p.Fail(fmt.Errorf("[DEFAULT] transport_url: %w", err))
	}
	pub := messaging.NewPublisher(opts, messaging.Exchange{Name: conf.Common.Exchange.Get(c)})
	defer pub.Close()
	fp := footprint.Apply()
	log.Info("vmmon-agent starting", "host", host, "libvirt_uri", cfg.LibvirtURI, "interval", cfg.Interval,
		"transport_url", opts.URL.Redacted(), "gc_percent", fp.GCPercent, "malloc_arena_max", fp.ArenaMax, "gomaxprocs", fp.MaxProcs)
	a := agent.New(cfg, hypervisor.Dial, pub, sp, log)
	if addr := conf.Agent.MetricsBind.Get(c); addr != "" {
		go func() {
			if err := a.ServeMetrics(ctx, addr); err != nil {
				log.Error("agent metrics not served", "error", err)
			}
		}()
	}
	if err := a.Run(ctx); err != nil {
		log.Error("vmmon-agent stopped", "error", err)
		return 1
	}
	return 0
}
