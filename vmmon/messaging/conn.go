package messaging

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// ErrUnavailable is returned when no broker of the transport URL answers.
var ErrUnavailable = errors.New("no RabbitMQ broker reachable")

// dialer connects to the hosts of a transport URL in turn.
type dialer struct {
	opts *Options
	mu   sync.Mutex
	next int // host to try first
}

// dialOnce tries every host once, starting after the last one that worked.
func (d *dialer) dialOnce(ctx context.Context) (*amqp.Connection, error) {
	n := len(d.opts.URL.Hosts)
	order := make([]int, n)
	d.mu.Lock()
	for i := range order {
		order[i] = (d.next + i) % n
	}
	d.mu.Unlock()
	if d.opts.Shuffle {
		rand.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	var errs []error
	for _, i := range order {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		conn, err := d.dialHost(ctx, i)
		if err == nil {
			d.mu.Lock()
			d.next = i
			d.mu.Unlock()
			return conn, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", d.opts.URL.Hosts[i].Addr(), err))
	}
	return nil, fmt.Errorf("%w (%s): %w", ErrUnavailable, d.opts.URL.Redacted(), errors.Join(errs...))
}

func (d *dialer) dialHost(ctx context.Context, i int) (*amqp.Connection, error) {
	timeout := d.opts.ConnectionTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	cfg := amqp.Config{
		Heartbeat:  d.opts.Heartbeat,
		Properties: amqp.NewConnectionProperties(),
		Dial: func(network, addr string) (net.Conn, error) {
			dctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			var nd net.Dialer
			conn, err := nd.DialContext(dctx, network, addr)
			if err != nil {
				return nil, err
			}
			// The AMQP handshake must finish in time too.
			if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
				conn.Close()
				return nil, err
			}
			return conn, nil
		},
	}
	if d.opts.ConnectionName != "" {
		cfg.Properties.SetClientConnectionName(d.opts.ConnectionName)
	}
	uri := d.opts.URL.AMQPURI(i)
	if d.opts.TLS != nil {
		cfg.TLSClientConfig = d.opts.TLS.Clone()
		if cfg.TLSClientConfig.ServerName == "" {
			cfg.TLSClientConfig.ServerName = d.opts.URL.Hosts[i].Hostname
		}
		if !d.opts.URL.TLS() {
			uri = "amqps" + uri[len("amqp"):]
		}
	}
	conn, err := amqp.DialConfig(uri, cfg)
	if err != nil {
		return nil, err
	}
	return conn, nil
}

// dialRetry dials until a broker answers or ctx ends, waiting between rounds.
func (d *dialer) dialRetry(ctx context.Context) (*amqp.Connection, error) {
	for attempt := 0; ; attempt++ {
		conn, err := d.dialOnce(ctx)
		if err == nil {
			if attempt > 0 {
				d.opts.logger().Info("connected to RabbitMQ", "url", d.opts.URL.Redacted(), "attempts", attempt+1)
			}
			return conn, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		wait := d.opts.backoff(attempt)
		d.opts.logger().Warn("RabbitMQ unreachable, retrying", "error", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// Exchange describes an exchange to declare (or check).
type Exchange struct {
	Name string
	Kind string // "topic" when empty
	// Foreign marks another service's exchange (Nova's): declared as the
	// deployment declares it ([oslo_messaging_rabbit] amqp_durable_queues).
	// vmmon's own exchanges are durable too with quorum queues, so that a
	// broker restart keeps them and the queues' bindings to them.
	Foreign bool
}

// durable reports whether ex is declared durable under o.
func (ex Exchange) durable(o *Options) bool {
	return o.Durable || (o.Quorum && !ex.Foreign)
}

func declareExchange(ch *amqp.Channel, o *Options, ex Exchange) error {
	kind := ex.Kind
	if kind == "" {
		kind = amqp.ExchangeTopic
	}
	durable := ex.durable(o)
	var err error
	if o.Passive {
		err = ch.ExchangeDeclarePassive(ex.Name, kind, durable, o.AutoDelete, false, false, nil)
	} else {
		err = ch.ExchangeDeclare(ex.Name, kind, durable, o.AutoDelete, false, false, nil)
	}
	if err != nil {
		return fmt.Errorf("while declaring exchange %q (durable=%v auto_delete=%v passive=%v; these must match "+
			"the deployment, see [oslo_messaging_rabbit] amqp_durable_queues and rabbit_quorum_queue): %w",
			ex.Name, durable, o.AutoDelete, o.Passive, err)
	}
	return nil
}
