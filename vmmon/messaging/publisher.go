package messaging

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// ErrNotConfirmed is returned when the broker refused (nacked) a message or did
// not confirm it in time: the caller still owns it.
var ErrNotConfirmed = errors.New("message not confirmed by the broker")

// ErrUnroutable is returned (wrapping ErrNotConfirmed) when the broker
// returned a message because no queue is bound for its routing key: the
// message reached nobody, and the caller still owns it.
var ErrUnroutable = fmt.Errorf("%w: no queue is bound for it (unroutable)", ErrNotConfirmed)

// Publisher publishes messages to one exchange and waits for the broker's
// confirmation of each. It connects lazily and, after a failure, reconnects on
// the next call: it never retries on its own, so that a caller with a spool
// decides what happens to a message that was not confirmed.
type Publisher struct {
	opts Options
	ex   Exchange
	d    *dialer

	mu      sync.Mutex
	conn    *amqp.Connection
	ch      *amqp.Channel
	returns chan amqp.Return
	serial  uint64
}

// NewPublisher returns a publisher to exchange ex.
func NewPublisher(opts Options, ex Exchange) *Publisher {
	return &Publisher{opts: opts, ex: ex, d: &dialer{opts: &opts}}
}

// Publish encodes m in the oslo envelope and publishes it with routingKey,
// returning once the broker confirmed it. An error wraps ErrUnavailable (no
// broker) or ErrNotConfirmed (nack or timeout).
func (p *Publisher) Publish(ctx context.Context, routingKey string, m *Message) error {
	body, err := Encode(m)
	if err != nil {
		return err
	}
	return p.PublishBody(ctx, routingKey, body)
}

// PublishBody publishes an already encoded message (e.g. from a spool).
func (p *Publisher) PublishBody(ctx context.Context, routingKey string, body []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch, err := p.channel(ctx)
	if err != nil {
		return err
	}
	timeout := p.opts.ConfirmTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Mandatory: a message no queue takes comes back (basic.return, before
	// its ack) instead of being confirmed and dropped.
	p.serial++
	id := fmt.Sprintf("%d", p.serial)
	dc, err := ch.PublishWithDeferredConfirmWithContext(cctx, p.ex.Name, routingKey, true, false, amqp.Publishing{
		ContentType:     "application/json",
		ContentEncoding: "utf-8",
		DeliveryMode:    amqp.Persistent,
		Timestamp:       time.Now(),
		MessageId:       id,
		Body:            body,
	})
	if err != nil {
		p.resetLocked()
		return fmt.Errorf("%w: while publishing to %s/%s: %w", ErrUnavailable, p.ex.Name, routingKey, err)
	}
	acked, err := dc.WaitContext(cctx)
	switch {
	case err != nil:
		// The channel may be broken or the broker slow: start afresh next time.
		p.resetLocked()
		return fmt.Errorf("%w: %s/%s: %w", ErrNotConfirmed, p.ex.Name, routingKey, err)
	case !acked:
		return fmt.Errorf("%w: %s/%s was nacked", ErrNotConfirmed, p.ex.Name, routingKey)
	}
	// The library hands a return to p.returns before it processes the ack
	// that follows it, so by now a return of this message is waiting there.
	for {
		select {
		case ret := <-p.returns:
			if ret.MessageId == id {
				return fmt.Errorf("%w: %s/%s (%s)", ErrUnroutable, p.ex.Name, routingKey, ret.ReplyText)
			}
			continue // an earlier message's, already given up on
		default:
		}
		return nil
	}
}

// channel returns a confirm-mode channel, connecting when needed.
func (p *Publisher) channel(ctx context.Context) (*amqp.Channel, error) {
	if p.ch != nil && !p.ch.IsClosed() && p.conn != nil && !p.conn.IsClosed() {
		return p.ch, nil
	}
	p.resetLocked()
	conn, err := p.d.dialOnce(ctx)
	if err != nil {
		return nil, err
	}
	ch, err := conn.Channel()
	if err == nil {
		err = ch.Confirm(false)
	}
	if err == nil {
		p.returns = ch.NotifyReturn(make(chan amqp.Return, 64))
	}
	if err == nil {
		err = declareExchange(ch, &p.opts, p.ex)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	p.conn, p.ch = conn, ch
	return ch, nil
}

func (p *Publisher) resetLocked() {
	if p.conn != nil {
		p.conn.Close()
	}
	p.conn, p.ch = nil, nil
}

// Close closes the connection.
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resetLocked()
	return nil
}
