package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"opendev.org/openstack/vmmon/vmmon/actions"
	"opendev.org/openstack/vmmon/vmmon/api"
	"opendev.org/openstack/vmmon/vmmon/auth"
	"opendev.org/openstack/vmmon/vmmon/conf"
	"opendev.org/openstack/vmmon/vmmon/livestream"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/policy"
	"opendev.org/openstack/vmmon/vmmon/service"
	"opendev.org/openstack/vmmon/vmmon/storage/backend"
	"opendev.org/openstack/vmmon/vmmon/trusts"
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

// NewHTTPServer is vmmon-api's HTTP server with the [api] timeouts: a client
// has client_timeout to send a request, and to read each part of the
// answer after request_timeout; idle connections close after idle_timeout.
// (The live stream sets a deadline for each of its writes.)
func NewHTTPServer(addr string, h http.Handler, c *conf.Config) *http.Server {
	client := conf.API.ClientTimeout.Get(c)
	return &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: client, ReadTimeout: client,
		WriteTimeout: conf.API.RequestTimeout.Get(c) + client, IdleTimeout: conf.API.IdleTimeout.Get(c),
		MaxHeaderBytes: 64 << 10}
}

// registerKeystone adds the token validator's counts to reg.
func registerKeystone(reg *prometheus.Registry, k *auth.Keystone) {
	for _, c := range []struct {
		name, help string
		get        func(auth.KeystoneStats) uint64
	}{
		{"vmmon_api_token_validations_total", "Token validations asked of Keystone.", func(s auth.KeystoneStats) uint64 { return s.Asked }},
		{"vmmon_api_token_cache_hits_total", "Tokens answered from the cache (valid or refused).", func(s auth.KeystoneStats) uint64 { return s.CacheHits }},
		{"vmmon_api_tokens_refused_total", "Tokens found invalid, by Keystone or from the cache.", func(s auth.KeystoneStats) uint64 { return s.Refused }},
		{"vmmon_api_token_validation_failures_total", "Validations that failed because Keystone could not be reached.",
			func(s auth.KeystoneStats) uint64 { return s.Failed }},
	} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: c.name, Help: c.help},
			func() float64 { return float64(c.get(k.Stats())) }))
	}
}

// RunAPI serves vmmon-api's /v1 until ctx ends.
func RunAPI(ctx context.Context, p *service.Process) int {
	c, log := p.Config, p.Log
	if gc, set := applyGCPercent(c, os.Getenv); set {
		log.Info("garbage collection target set", "gc_percent", gc)
	}
	bindHost := conf.API.BindHost.Get(c)
	validator, err := Validator(ctx, c, bindHost)
	if err != nil {
		return p.Fail(err)
	}
	if _, ok := validator.(auth.NoAuth); ok {
		log.Warn("AUTHENTICATION IS DISABLED ([DEFAULT] auth_strategy = noauth): every caller is an administrator")
	}
	enforcer, err := policy.New(PolicyPath(c))
	if err != nil {
		return p.Fail(err)
	}
	store, err := openStore(ctx, c)
	if err != nil {
		return p.Fail(err)
	}
	defer store.Close()
	authURI := conf.Authtoken.WWWAuthenticateURI.Get(c)
	if authURI == "" {
		authURI = conf.Authtoken.AuthURL.Get(c)
	}
	// The live stream reads the agents' samples and the collectors' alarm transitions from a queue of this process's own.
	hub := livestream.NewHub(64)
	opts, err := messaging.OptionsFromConfig(c, conf.Common.TransportURL, "vmmon-api", log)
	if err != nil {
		return p.Fail(fmt.Errorf("[DEFAULT] transport_url: %w", err))
	}
	host, _ := os.Hostname()
	live := messaging.NewConsumer(opts, messaging.Queue{Name: fmt.Sprintf("vmmon-api-live.%s.%d", host, os.Getpid()), Transient: true,
		Bindings: []messaging.Binding{{Exchange: messaging.Exchange{Name: conf.Common.Exchange.Get(c)}, RoutingKeys: []string{"samples.*", livestream.AlarmKind + ".*"}}}})
	go func() {
		if err := live.Run(ctx, hub.HandleDelivery); err != nil {
			log.Error("live stream stopped", "error", err)
		}
	}()
	runner := &actions.Runner{Store: store, Now: time.Now, Timeout: conf.Nova.ActionTimeout.Get(c)}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Alarms' instance actions run with Keystone trusts, which only a
	// vmmon-api validating Keystone tokens can make.
	var trustMaker api.TrustMaker
	if k, ok := validator.(*auth.Keystone); ok {
		registerKeystone(reg, k)
		trustMaker = &trusts.Maker{IdentityURL: k.IdentityURL(), Trustee: k.ServiceUserID}
	}
	requestTimeout := conf.API.RequestTimeout.Get(c)
	srv := api.New(api.Config{Store: store, Validator: validator, Policy: enforcer, Log: log, AuthURI: authURI, Live: hub, Actions: runner,
		MaxPoints: conf.API.MaxPoints.Get(c), MaxLimit: conf.API.MaxLimit.Get(c),
		StaleAfter: conf.Collector.StaleMultiplier.Get(c), DownAfter: conf.Collector.DownMultiplier.Get(c),
		HealthDisableFile: conf.Healthcheck.DisableByFilePath.Get(c), Retention: backend.Retention(c),
		RequestTimeout: requestTimeout, StreamsPerUser: conf.API.StreamsPerUser.Get(c),
		StreamMaxLifetime: conf.API.StreamMaxLifetime.Get(c), Registry: reg, Trusts: trustMaker})
	addr := net.JoinHostPort(bindHost, fmt.Sprint(conf.API.BindPort.Get(c)))
	httpSrv := NewHTTPServer(addr, srv.Handler(), c)
	errs := make(chan error, 1)
	go func() { errs <- httpSrv.ListenAndServe() }()
	log.Info("vmmon-api listening", "address", addr, "storage", conf.Storage.Driver.Get(c))
	select {
	case <-ctx.Done():
	case err := <-errs:
		if !errors.Is(err, http.ErrServerClosed) {
			return p.Fail(err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = httpSrv.Shutdown(sctx)
	return 0
}
