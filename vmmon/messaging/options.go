package messaging

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"time"

	"opendev.org/openstack/vmmon/vmmon/conf"
	"opendev.org/openstack/vmmon/vmmon/transporturl"
)

// Options say how to reach RabbitMQ and how to declare things on it.
type Options struct {
	URL *transporturl.URL
	// TLS, when not nil, is used for every host (also set by ?ssl=1).
	TLS *tls.Config

	RetryInterval     time.Duration // first wait before reconnecting
	RetryBackoff      time.Duration // added to the wait after each failure
	IntervalMax       time.Duration // longest wait
	Heartbeat         time.Duration // dead-connection detection; 0 is the broker's value
	ConnectionTimeout time.Duration
	ConfirmTimeout    time.Duration
	Shuffle           bool // try hosts in random order instead of round-robin

	Durable    bool // exchanges and queues survive a broker restart
	AutoDelete bool
	Quorum     bool // vmmon's queues are quorum queues
	Passive    bool // exchanges are only checked, never declared
	Prefetch   int

	// ConnectionName shows in RabbitMQ's management (e.g. vmmon-agent:host1).
	ConnectionName string
	Logger         *slog.Logger
}

// OptionsFromConfig builds Options from the [oslo_messaging_rabbit] section and
// the transport URL in urlOpt (falling back to [DEFAULT] transport_url when
// urlOpt is unset).
func OptionsFromConfig(c *conf.Config, urlOpt conf.StringOpt, name string, logger *slog.Logger) (Options, error) {
	raw := urlOpt.Get(c)
	if raw == "" {
		raw = conf.Common.TransportURL.Get(c)
	}
	u, err := transporturl.Parse(raw)
	if err != nil {
		return Options{}, err
	}
	r := conf.Rabbit
	o := Options{
		URL:               u,
		RetryInterval:     r.RetryInterval.Get(c),
		RetryBackoff:      r.RetryBackoff.Get(c),
		IntervalMax:       r.IntervalMax.Get(c),
		Heartbeat:         r.HeartbeatTimeout.Get(c) / 2,
		ConnectionTimeout: r.ConnectionTimeout.Get(c),
		ConfirmTimeout:    r.ConfirmTimeout.Get(c),
		Shuffle:           r.FailoverStrategy.Get(c) == "shuffle",
		Durable:           r.DurableQueues.Get(c),
		AutoDelete:        r.AutoDelete.Get(c),
		Quorum:            r.QuorumQueues.Get(c),
		Passive:           r.PassiveExchanges.Get(c),
		Prefetch:          r.Prefetch.Get(c),
		ConnectionName:    name,
		Logger:            logger,
	}
	if r.SSL.Get(c) || u.TLS() {
		o.TLS, err = tlsConfig(r.SSLCAFile.Get(c), r.SSLCertFile.Get(c), r.SSLKeyFile.Get(c))
		if err != nil {
			return Options{}, err
		}
	}
	return o, nil
}

func tlsConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("[oslo_messaging_rabbit] ssl_ca_file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("[oslo_messaging_rabbit] ssl_ca_file: %s holds no PEM certificate", caFile)
		}
	}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("[oslo_messaging_rabbit] ssl_cert_file/ssl_key_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func (o *Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.Default()
	}
	return o.Logger
}

// backoff returns the wait before reconnection attempt n (0-based), as
// oslo.messaging computes it.
func (o *Options) backoff(n int) time.Duration {
	d := o.RetryInterval + time.Duration(n)*o.RetryBackoff
	if o.IntervalMax > 0 && d > o.IntervalMax {
		d = o.IntervalMax
	}
	if d <= 0 {
		d = 100 * time.Millisecond
	}
	return d
}
