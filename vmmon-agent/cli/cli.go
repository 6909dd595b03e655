// Package cli is the vmmon-agent command: flags, configuration, wiring.
package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"opendev.org/openstack/vmmon/vmmon-agent/agent"
	"opendev.org/openstack/vmmon/vmmon-agent/hypervisor"
	"opendev.org/openstack/vmmon/vmmon-agent/spool"
	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/conf"
	"opendev.org/openstack/vmmon/vmmon/logging"
	"opendev.org/openstack/vmmon/vmmon/messaging"
)

// DefaultConfigFile is read when no --config-file is given.
const DefaultConfigFile = "/etc/vmmon/vmmon-agent.conf"

// Main runs vmmon-agent with args (without the program name) and returns the
// exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vmmon-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := conf.AddFlags(fs, DefaultConfigFile)
	once := fs.Bool("once", false, "collect once, print the batch as JSON on standard output and exit (no broker needed)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c, err := conf.Load(cf.Sources())
	if err != nil {
		fmt.Fprintf(stderr, "vmmon-agent: %v\n", err)
		return 1
	}
	log, closeLog, err := logging.New(c, "vmmon-agent", stderr)
	if err != nil {
		fmt.Fprintf(stderr, "vmmon-agent: %v\n", err)
		return 1
	}
	defer closeLog()
	c.Log(log)
	host := conf.Agent.Host.Get(c)
	if host == "" {
		if host, err = os.Hostname(); err != nil {
			fmt.Fprintf(stderr, "vmmon-agent: [agent] host is empty and the host name is unknown: %v\n", err)
			return 1
		}
	}
	cfg := agent.Config{
		Host: host, LibvirtURI: conf.Agent.LibvirtURI.Get(c),
		Interval: conf.Agent.Interval.Get(c), Timeout: conf.Agent.LibvirtTimeout.Get(c),
	}
	if *once {
		a := agent.New(cfg, hypervisor.Dial, nil, nil, log)
		b, err := a.Collect(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "vmmon-agent: %v\n", err)
			return 1
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
		fmt.Fprintf(stderr, "vmmon-agent: [agent] spool_dir: %v\n", err)
		return 1
	}
	opts, err := messaging.OptionsFromConfig(c, conf.Common.TransportURL, agentmsg.PublisherID(host), log)
	if err != nil {
		fmt.Fprintf(stderr, "vmmon-agent: [DEFAULT] transport_url: %v\n", err)
		return 1
	}
	pub := messaging.NewPublisher(opts, messaging.Exchange{Name: conf.Common.Exchange.Get(c)})
	defer pub.Close()
	log.Info("vmmon-agent starting", "host", host, "libvirt_uri", cfg.LibvirtURI, "interval", cfg.Interval,
		"transport_url", opts.URL.Redacted())
	if err := agent.New(cfg, hypervisor.Dial, pub, sp, log).Run(ctx); err != nil {
		log.Error("vmmon-agent stopped", "error", err)
		return 1
	}
	return 0
}
