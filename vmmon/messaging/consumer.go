package messaging

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Binding binds a queue to an exchange with routing keys (topic patterns).
type Binding struct {
	Exchange    Exchange
	RoutingKeys []string
}

// Queue is a queue of vmmon's own with its bindings.
type Queue struct {
	Name     string
	Bindings []Binding
	// DeadLetterExchange receives messages the handler rejects.
	DeadLetterExchange string
	// Transient queues belong to one consumer and vanish with it (live streams, tests).
	Transient bool
	// Workers handle deliveries concurrently (default 1: in order).
	Workers int
}

// Delivery is one message received.
type Delivery struct {
	Exchange    string
	RoutingKey  string
	Body        []byte
	Redelivered bool
}

// Outcome is what a handler decided about a delivery.
type Outcome int

const (
	// Ack: done with, durably; the broker forgets it.
	Ack Outcome = iota
	// Requeue: not handled now (e.g. storage down); deliver it again later.
	Requeue
	// Reject: never to be handled (undecodable); dead-lettered when the queue has a dead-letter exchange.
	Reject
)

// Handler handles one delivery. It runs on one of the consumer's workers; a
// panic in it rejects the delivery and the worker goes on.
type Handler func(ctx context.Context, d Delivery) Outcome

// Consumer reads one queue with manual acknowledgement and a prefetch limit,
// reconnecting (with failover and backoff) whenever the connection is lost.
type Consumer struct {
	opts  Options
	queue Queue
	d     *dialer

	readyOnce sync.Once
	ready     chan struct{}
}

// NewConsumer returns a consumer of q.
func NewConsumer(opts Options, q Queue) *Consumer {
	return &Consumer{opts: opts, queue: q, d: &dialer{opts: &opts}, ready: make(chan struct{})}
}

// Ready is closed once the queue has been declared, bound and subscribed for
// the first time.
func (c *Consumer) Ready() <-chan struct{} { return c.ready }

// Run consumes until ctx ends, calling h for each delivery.
func (c *Consumer) Run(ctx context.Context, h Handler) error {
	for attempt := 0; ; attempt++ {
		conn, err := c.d.dialRetry(ctx)
		if err != nil {
			return ctxErr(ctx, err)
		}
		err = c.session(ctx, conn, h)
		// Closing the connection (not the channel) cannot deadlock on undelivered
		// messages; unacknowledged ones return to the queue.
		_ = conn.CloseDeadline(time.Now().Add(5 * time.Second))
		if ctx.Err() != nil {
			return nil
		}
		var ae *amqp.Error
		if errors.As(err, &ae) && !ae.Recover && ae.Code >= 400 && ae.Code < 500 && ae.Code != amqp.ConnectionForced {
			// A declaration the broker refuses (precondition failed, access refused) will not heal.
			return err
		}
		c.opts.logger().Warn("lost RabbitMQ consumer session, reconnecting", "queue", c.queue.Name, "error", err)
	}
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (c *Consumer) declare(ch *amqp.Channel) error {
	args := amqp.Table{}
	durable, autoDelete, exclusive := c.opts.Durable, c.opts.AutoDelete, false
	switch {
	case c.queue.Transient:
		durable, autoDelete, exclusive = false, true, true
	case c.opts.Quorum:
		args["x-queue-type"] = "quorum"
		durable, autoDelete = true, false
	}
	if c.queue.DeadLetterExchange != "" {
		args["x-dead-letter-exchange"] = c.queue.DeadLetterExchange
	}
	if _, err := ch.QueueDeclare(c.queue.Name, durable, autoDelete, exclusive, false, args); err != nil {
		return fmt.Errorf("while declaring queue %q: %w", c.queue.Name, err)
	}
	for _, b := range c.queue.Bindings {
		if err := declareExchange(ch, &c.opts, b.Exchange); err != nil {
			return err
		}
		for _, key := range b.RoutingKeys {
			if err := ch.QueueBind(c.queue.Name, key, b.Exchange.Name, false, nil); err != nil {
				return fmt.Errorf("while binding queue %q to %s/%s: %w", c.queue.Name, b.Exchange.Name, key, err)
			}
		}
	}
	return nil
}

func (c *Consumer) session(ctx context.Context, conn *amqp.Connection, h Handler) error {
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	if err := c.declare(ch); err != nil {
		return err
	}
	prefetch := c.opts.Prefetch
	if prefetch <= 0 {
		prefetch = 100
	}
	if err := ch.Qos(prefetch, 0, false); err != nil {
		return fmt.Errorf("while setting prefetch: %w", err)
	}
	deliveries, err := ch.Consume(c.queue.Name, c.opts.ConnectionName, false, c.queue.Transient, false, false, nil)
	if err != nil {
		return fmt.Errorf("while subscribing to %q: %w", c.queue.Name, err)
	}
	c.readyOnce.Do(func() { close(c.ready) })
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	workers := max(c.queue.Workers, 1)
	work := make(chan amqp.Delivery)
	settleErr := make(chan error, workers)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				out := c.handle(ctx, h, Delivery{Exchange: d.Exchange, RoutingKey: d.RoutingKey, Body: d.Body, Redelivered: d.Redelivered})
				var err error
				switch out {
				case Ack:
					err = d.Ack(false)
				case Requeue:
					err = d.Nack(false, true)
				default:
					err = d.Nack(false, false)
				}
				if err != nil {
					select {
					case settleErr <- fmt.Errorf("while settling delivery: %w", err):
					default:
					}
				}
			}
		}()
	}
	defer func() { close(work); wg.Wait() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-closed:
			if e == nil {
				return errors.New("connection closed")
			}
			return e
		case err := <-settleErr:
			return err
		case d, ok := <-deliveries:
			if !ok {
				return errors.New("delivery channel closed by the broker")
			}
			select {
			case work <- d:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// handle runs h on one delivery. A panic in h rejects the delivery (to the
// dead-letter exchange, when the queue has one) and is logged with its
// stack; the worker goes on with the next delivery.
func (c *Consumer) handle(ctx context.Context, h Handler, d Delivery) (out Outcome) {
	defer func() {
		if v := recover(); v != nil {
			c.opts.logger().Error("a message handler panicked; rejecting the message", "queue", c.queue.Name,
				"routing_key", d.RoutingKey, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			out = Reject
		}
	}()
	return h(ctx, d)
}

// DeclareParking declares a fanout dead-letter exchange and a bounded queue
// behind it, where rejected messages wait for a person to look at them.
func DeclareParking(ctx context.Context, opts Options, exchange, queue string, maxMessages int) error {
	d := &dialer{opts: &opts}
	conn, err := d.dialOnce(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	durable := opts.Durable || opts.Quorum
	if err := ch.ExchangeDeclare(exchange, amqp.ExchangeFanout, durable, false, false, false, nil); err != nil {
		return fmt.Errorf("while declaring parking exchange %q: %w", exchange, err)
	}
	args := amqp.Table{"x-max-length": int64(maxMessages)}
	if opts.Quorum {
		args["x-queue-type"] = "quorum"
	}
	if _, err := ch.QueueDeclare(queue, durable, false, false, false, args); err != nil {
		return fmt.Errorf("while declaring parking queue %q: %w", queue, err)
	}
	if err := ch.QueueBind(queue, "#", exchange, false, nil); err != nil {
		return fmt.Errorf("while binding parking queue %q: %w", queue, err)
	}
	return nil
}
