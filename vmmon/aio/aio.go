// Package aio is vmmon's all-in-one: agent, collector and API in one process
// on the embedded store, with an in-process bus instead of RabbitMQ and
// libvirt's test driver (or the local hypervisor when one answers), for a
// first look on a machine with nothing else. Authentication is off, so it
// refuses to listen anywhere but on loopback, and says so at every start.
package aio

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"opendev.org/openstack/vmmon/vmmon-agent/agent"
	"opendev.org/openstack/vmmon/vmmon-agent/hypervisor"
	"opendev.org/openstack/vmmon/vmmon-agent/spool"
	"opendev.org/openstack/vmmon/vmmon/alarms"
	"opendev.org/openstack/vmmon/vmmon/api"
	"opendev.org/openstack/vmmon/vmmon/auth"
	"opendev.org/openstack/vmmon/vmmon/collector"
	"opendev.org/openstack/vmmon/vmmon/livestream"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/policy"
	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/storage/embedded"
)

// bus delivers the agent's messages straight to the collector, as RabbitMQ
// would, and reports a message the collector did not take as not delivered
// (so that it stays in the agent's spool).
type bus struct {
	c      *collector.Collector
	hub    *livestream.Hub
	alarms *alarms.Engine
}

func (b bus) PublishBody(ctx context.Context, routingKey string, body []byte) error {
	d := messaging.Delivery{Exchange: "vmmon", RoutingKey: routingKey, Body: body}
	if out := b.c.HandleAgent(ctx, d); out != messaging.Ack {
		return fmt.Errorf("%w: the collector did not take %s", messaging.ErrNotConfirmed, routingKey)
	}
	b.hub.HandleDelivery(ctx, d)
	b.alarms.HandleDelivery(ctx, d)
	return nil
}

// Main runs the all-in-one and returns the exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vmmon-aio", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", ".vmmon-aio", "where the all-in-one keeps its store, spool and test domains")
	bind := fs.String("bind", "127.0.0.1:8780", "address of the API; loopback only")
	uri := fs.String("libvirt-uri", "", "libvirt to read (default: qemu:///system when it answers, else a test driver)")
	interval := fs.Duration("interval", 5*time.Second, "collection interval")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("program", "vmmon-aio")
	if err := run(ctx, log, stdout, *dataDir, *bind, *uri, *interval); err != nil {
		fmt.Fprintf(stderr, "vmmon-aio: %v\n", err)
		return 1
	}
	return 0
}

func run(ctx context.Context, log *slog.Logger, stdout io.Writer, dataDir, bind, uri string, interval time.Duration) error {
	host, port, err := net.SplitHostPort(bind)
	if err != nil {
		return fmt.Errorf("--bind %q: expected host:port", bind)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--bind %s: the all-in-one has no authentication and listens on loopback only (127.0.0.1 or ::1)", bind)
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return err
	}
	dataDir, _ = filepath.Abs(dataDir)
	store, err := embedded.Open(filepath.Join(dataDir, "store"), storage.DefaultRetention)
	if err != nil {
		return err
	}
	defer store.Close()
	if uri == "" {
		uri, err = chooseHypervisor(dataDir)
		if err != nil {
			return err
		}
	}
	sp, err := spool.Open(filepath.Join(dataDir, "spool"), 64<<20)
	if err != nil {
		return err
	}
	c := collector.New(store, log)
	hub := livestream.NewHub(64)
	// Alarms are evaluated here too, and call their webhooks (there is no
	// bus for notifications, nor Keystone for instance actions).
	engine := alarms.NewEngine(store, alarms.EngineConfig{Refresh: 2 * time.Second,
		Actions: &alarms.Actions{HTTP: &http.Client{Timeout: 10 * time.Second}}, OnTransition: func(t alarms.Transition) {
			if raw, err := json.Marshal(t.Payload()); err == nil {
				hub.Alarm(raw)
			}
		}}, log.With("part", "alarms"))
	hostname, _ := os.Hostname()
	a := agent.New(agent.Config{Host: hostname, LibvirtURI: uri, Interval: interval, Timeout: 5 * time.Second},
		hypervisor.Dial, bus{c, hub, engine}, sp, log)
	enforcer, err := policy.New("")
	if err != nil {
		return err
	}
	// Every caller of the all-in-one is system-scoped: it may manage alarms.
	for _, rule := range []string{"vmmon:alarm:create", "vmmon:alarm:create:host", "vmmon:alarm:update", "vmmon:alarm:delete"} {
		enforcer.SetScopes(rule, "project", "system")
	}
	srv := api.New(api.Config{Store: store, Validator: auth.NoAuth{}, Policy: enforcer, Log: log, Live: hub,
		StaleAfter: 3, DownAfter: 10, MaxPoints: 10000, MaxLimit: 1000})
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", bind, err)
	}
	httpSrv := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	log.Warn("AUTHENTICATION IS DISABLED: the all-in-one trusts every caller on loopback as an administrator; " +
		"never expose it, and run vmmon-api with [DEFAULT] auth_strategy = keystone in production")
	log.Info("all-in-one starting", "data_dir", dataDir, "libvirt_uri", uri, "interval", interval, "listen", bind)
	base := "http://" + net.JoinHostPort(host, port)
	fmt.Fprintf(stdout, "\nvmmon all-in-one is serving on %s/ (data in %s, libvirt %s)\n"+
		"Try:\n  curl -s '%s/v1/instances'\n  curl -s '%s/v1/instances/<id>/metrics/cpu_util/measures?granularity=raw'\n"+
		"Press Ctrl-C to stop.\n\n", base, dataDir, uri, base, base)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 3)
	go func() { errs <- a.Run(ctx) }()
	go func() { _ = engine.Run(ctx) }()
	go func() {
		if err := httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs <- err
			return
		}
		errs <- nil
	}()
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	_ = httpSrv.Shutdown(sctx)
	log.Info("all-in-one stopped")
	return err
}

// chooseHypervisor uses the local QEMU when libvirt answers there, else a test
// driver file of a few domains carrying Nova's metadata.
func chooseHypervisor(dataDir string) (string, error) {
	type res struct {
		c   hypervisor.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := hypervisor.Dial("qemu:///system"); ch <- res{c, err} }()
	select {
	case r := <-ch:
		if r.err == nil {
			refs, err := r.c.ListDomains()
			r.c.Close()
			if err == nil && len(refs) > 0 {
				return "qemu:///system", nil
			}
		}
	case <-time.After(3 * time.Second):
	}
	path := filepath.Join(dataDir, "test-domains.xml")
	if err := os.WriteFile(path, []byte(testDomains(6)), 0o640); err != nil {
		return "", err
	}
	return "test://" + path, nil
}

func testDomains(n int) string {
	s := "<node>\n"
	for i := 1; i <= n; i++ {
		s += fmt.Sprintf(`  <domain type='test'>
    <name>demo-%d</name><uuid>de300000-0000-4000-8000-%012d</uuid>
    <metadata><nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
      <nova:name>demo-vm-%d</nova:name>
      <nova:flavor name="m1.small"><nova:memory>2048</nova:memory><nova:disk>20</nova:disk><nova:swap>0</nova:swap><nova:ephemeral>0</nova:ephemeral><nova:vcpus>1</nova:vcpus></nova:flavor>
      <nova:owner><nova:user uuid="00000000000000000000000000000001">demo</nova:user><nova:project uuid="admin">admin</nova:project></nova:owner>
    </nova:instance></metadata>
    <memory>2097152</memory><currentMemory>2097152</currentMemory><vcpu>1</vcpu>
    <os><type arch='i686'>hvm</type></os>
    <devices><disk type='file'><source file='/demo/disk-%d.img'/><target dev='vda'/></disk>
      <interface type='network'><source network='default'/><target dev='demo%d'/></interface></devices>
  </domain>
`, i, i, i, i, i)
	}
	return s + "</node>\n"
}
