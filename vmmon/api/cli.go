package api

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"opendev.org/openstack/vmmon/vmmon/actions"
	"opendev.org/openstack/vmmon/vmmon/auth"
	"opendev.org/openstack/vmmon/vmmon/conf"
	"opendev.org/openstack/vmmon/vmmon/logging"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/policy"
	"opendev.org/openstack/vmmon/vmmon/storage/backend"
)

// PolicyPath resolves [oslo_policy] policy_file: a relative name is looked up
// beside the first configuration file, else in /etc/vmmon.
func PolicyPath(c *conf.Config) string {
	p := conf.Policy.PolicyFile.Get(c)
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	if files := c.Files(); len(files) > 0 {
		return filepath.Join(filepath.Dir(files[0]), p)
	}
	return filepath.Join("/etc/vmmon", p)
}

// Validator builds the token validator [DEFAULT] auth_strategy names.
func Validator(ctx context.Context, c *conf.Config, bindHost string) (auth.Validator, error) {
	if conf.Common.AuthStrategy.Get(c) == "noauth" {
		if ip := net.ParseIP(bindHost); bindHost != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("[DEFAULT] auth_strategy = noauth is allowed only with [api] bind_host on loopback, not %q", bindHost)
		}
		return auth.NoAuth{}, nil
	}
	a := conf.Authtoken
	return auth.NewKeystone(ctx, auth.KeystoneOptions{
		AuthURL: a.AuthURL.Get(c), Username: a.Username.Get(c), Password: a.Password.Get(c),
		UserDomainName: a.UserDomainName.Get(c), ProjectName: a.ProjectName.Get(c), ProjectDomainName: a.ProjectDomainName.Get(c),
		CAFile: a.CAFile.Get(c), Insecure: a.Insecure.Get(c), CacheTime: a.TokenCacheTime.Get(c), Region: a.RegionName.Get(c),
	})
}

// applyGCPercent sets the garbage collection target from [api] gc_percent
// unless the GOGC environment variable is set; it returns the target and
// whether it set it.
func applyGCPercent(c *conf.Config, getenv func(string) string) (int, bool) {
	if getenv("GOGC") != "" {
		return 0, false
	}
	gc := conf.API.GCPercent.Get(c)
	debug.SetGCPercent(gc)
	return gc, true
}

// Main runs vmmon-api and returns the exit status.
func Main(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("vmmon-api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := conf.AddFlags(fs, "/etc/vmmon/vmmon.conf")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int { fmt.Fprintf(stderr, "vmmon-api: %v\n", err); return 1 }
	c, err := conf.Load(cf.Sources())
	if err != nil {
		return fail(err)
	}
	log, closeLog, err := logging.New(c, "vmmon-api", stderr)
	if err != nil {
		return fail(err)
	}
	defer closeLog()
	c.Log(log)
	if gc, set := applyGCPercent(c, os.Getenv); set {
		log.Info("garbage collection target set", "gc_percent", gc)
	}
	bindHost := conf.API.BindHost.Get(c)
	validator, err := Validator(ctx, c, bindHost)
	if err != nil {
		return fail(err)
	}
	if _, ok := validator.(auth.NoAuth); ok {
		log.Warn("AUTHENTICATION IS DISABLED ([DEFAULT] auth_strategy = noauth): every caller is an administrator")
	}
	enforcer, err := policy.New(PolicyPath(c))
	if err != nil {
		return fail(err)
	}
	store, err := backend.Open(ctx, c)
	if err != nil {
		return fail(err)
	}
	defer store.Close()
	if have, want, err := store.SchemaVersion(ctx); err != nil || have != want {
		return fail(fmt.Errorf("storage schema at version %d, this vmmon needs %d (%v): run vmmon-manage db sync", have, want, err))
	}
	authURI := conf.Authtoken.WWWAuthenticateURI.Get(c)
	if authURI == "" {
		authURI = conf.Authtoken.AuthURL.Get(c)
	}
	// The live stream reads the agents' samples from a queue of this process's own.
	hub := NewHub(64)
	if opts, err := messaging.OptionsFromConfig(c, conf.Common.TransportURL, "vmmon-api", log); err == nil {
		host, _ := os.Hostname()
		live := messaging.NewConsumer(opts, messaging.Queue{Name: fmt.Sprintf("vmmon-api-live.%s.%d", host, os.Getpid()), Transient: true,
			Bindings: []messaging.Binding{{Exchange: messaging.Exchange{Name: conf.Common.Exchange.Get(c)}, RoutingKeys: []string{"samples.*"}}}})
		go func() {
			if err := live.Run(ctx, hub.HandleDelivery); err != nil {
				log.Error("live stream stopped", "error", err)
			}
		}()
	} else {
		return fail(fmt.Errorf("[DEFAULT] transport_url: %w", err))
	}
	runner := &actions.Runner{Store: store, Now: time.Now, Timeout: conf.Nova.ActionTimeout.Get(c)}
	srv := New(Config{Store: store, Validator: validator, Policy: enforcer, Log: log, AuthURI: authURI, Live: hub, Actions: runner,
		MaxPoints: conf.API.MaxPoints.Get(c), MaxLimit: conf.API.MaxLimit.Get(c),
		StaleAfter: conf.Collector.StaleMultiplier.Get(c), DownAfter: conf.Collector.DownMultiplier.Get(c),
		HealthDisableFile: conf.Healthcheck.DisableByFilePath.Get(c)})
	addr := net.JoinHostPort(bindHost, fmt.Sprint(conf.API.BindPort.Get(c)))
	httpSrv := &http.Server{Addr: addr, Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errs := make(chan error, 1)
	go func() { errs <- httpSrv.ListenAndServe() }()
	log.Info("vmmon-api listening", "address", addr, "storage", conf.Storage.Driver.Get(c))
	select {
	case <-ctx.Done():
	case err := <-errs:
		if !errors.Is(err, http.ErrServerClosed) {
			return fail(err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = httpSrv.Shutdown(sctx)
	return 0
}
