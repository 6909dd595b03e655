//go:build functional

package functional

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/transporturl"
)

// peekQueue returns what the broker at url says of queue (its consumers
// and messages), by a passive declaration: an error when it has no such
// queue or cannot be reached.
func peekQueue(url, queue string) (amqp.Queue, error) {
	u, err := transporturl.Parse(url)
	if err != nil {
		return amqp.Queue{}, err
	}
	conn, err := amqp.Dial(u.AMQPURI(0))
	if err != nil {
		return amqp.Queue{}, err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return amqp.Queue{}, err
	}
	return ch.QueueDeclarePassive(queue, false, false, false, false, nil)
}

// rabbitOptions returns messaging options for url; t may be nil (benchmarks).
func rabbitOptions(t *testing.T, url string) messaging.Options {
	u, err := transporturl.Parse(url)
	if err != nil {
		panic(err)
	}
	name := "vmmon-functional"
	if t != nil {
		name += ":" + t.Name()
	}
	return messaging.Options{
		URL: u, RetryInterval: 200 * time.Millisecond, RetryBackoff: 200 * time.Millisecond,
		IntervalMax: time.Second, ConnectionTimeout: 3 * time.Second, ConfirmTimeout: 10 * time.Second,
		Prefetch: 10, ConnectionName: name,
	}
}

func bedEnvURL(b *testing.B) string { return bedenv.Load(b).Get(b, "VMMON_TRANSPORT_URL") }

func uniqueName(t *testing.T) string {
	return fmt.Sprintf("vmmon-test-%s-%d", strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), time.Now().UnixNano())
}

// rabbitmqctl runs RabbitMQ's control command against the bed's node.
func rabbitmqctl(t *testing.T, env bedenv.Env, args ...string) ([]byte, error) {
	cmd := exec.Command("rabbitmqctl", args...)
	cmd.Env = append(os.Environ(), "RABBITMQ_NODENAME="+env.Get(t, "RABBITMQ_NODENAME"))
	return cmd.CombinedOutput()
}

// cleanup removes what a test declared, so that runs leave nothing behind.
func cleanup(t *testing.T, url string, exchanges, queues []string) {
	t.Cleanup(func() {
		u, _ := transporturl.Parse(url)
		conn, err := amqp.Dial(u.AMQPURI(0))
		if err != nil {
			t.Logf("cleanup: %v", err)
			return
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			return
		}
		for _, q := range queues {
			_, _ = ch.QueueDelete(q, false, false, false)
		}
		for _, e := range exchanges {
			_ = ch.ExchangeDelete(e, false, false)
		}
	})
}

type collected struct {
	mu   sync.Mutex
	msgs []*messaging.Message
	keys []string
	ch   chan struct{}
}

func newCollected() *collected { return &collected{ch: make(chan struct{}, 1000)} }

func (c *collected) handler(t *testing.T) messaging.Handler {
	return func(_ context.Context, d messaging.Delivery) messaging.Outcome {
		m, err := messaging.Decode(d.Body)
		if err != nil {
			t.Errorf("decode %s: %v", d.RoutingKey, err)
			return messaging.Reject
		}
		c.mu.Lock()
		c.msgs = append(c.msgs, m)
		c.keys = append(c.keys, d.RoutingKey)
		c.mu.Unlock()
		c.ch <- struct{}{}
		return messaging.Ack
	}
}

func (c *collected) wait(t *testing.T, n int, timeout time.Duration) []*messaging.Message {
	t.Helper()
	deadline := time.After(timeout)
	for {
		c.mu.Lock()
		got := len(c.msgs)
		c.mu.Unlock()
		if got >= n {
			c.mu.Lock()
			defer c.mu.Unlock()
			return append([]*messaging.Message(nil), c.msgs...)
		}
		select {
		case <-c.ch:
		case <-deadline:
			t.Fatalf("received %d of %d messages in %v", got, n, timeout)
		}
	}
}

func startConsumer(t *testing.T, opts messaging.Options, q messaging.Queue, h messaging.Handler) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := messaging.NewConsumer(opts, q)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, h) }()
	select {
	case <-c.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("consumer ended before it was ready: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("consumer not ready after 20s")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consumer Run: %v", err)
		}
	})
	return cancel
}

// A message published with confirms arrives through our consumer unchanged,
// to the queue whose binding matches its routing key only.
func TestRabbitRoundTrip(t *testing.T) {
	env := bedenv.Load(t)
	url := env.Get(t, "VMMON_TRANSPORT_URL")
	ex, q := uniqueName(t), uniqueName(t)+"-q"
	cleanup(t, url, []string{ex}, []string{q})
	opts := rabbitOptions(t, url)
	got := newCollected()
	startConsumer(t, opts, messaging.Queue{Name: q, Bindings: []messaging.Binding{
		{Exchange: messaging.Exchange{Name: ex}, RoutingKeys: []string{"samples.*"}},
	}}, got.handler(t))

	pub := messaging.NewPublisher(opts, messaging.Exchange{Name: ex})
	defer pub.Close()
	ctx := context.Background()
	var sent []*messaging.Message
	for i := 0; i < 20; i++ {
		m, err := messaging.NewMessage("vmmon-agent:host1", "vmmon.samples", messaging.PriorityInfo, map[string]int{"seq": i})
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish(ctx, "samples.host1", m); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		sent = append(sent, m)
	}
	// No queue is bound for a heartbeat: published mandatory, it comes back
	// as unroutable instead of being confirmed and dropped.
	other, _ := messaging.NewMessage("vmmon-agent:host1", "vmmon.heartbeat", messaging.PriorityInfo, nil)
	if err := pub.Publish(ctx, "heartbeat.host1", other); !errors.Is(err, messaging.ErrUnroutable) {
		t.Fatalf("publishing what no queue takes: %v; want ErrUnroutable", err)
	}
	msgs := got.wait(t, len(sent), 20*time.Second)
	for i, m := range msgs[:len(sent)] {
		if m.MessageID != sent[i].MessageID || string(m.Payload) != string(sent[i].Payload) ||
			m.PublisherID != "vmmon-agent:host1" || m.EventType != "vmmon.samples" {
			t.Errorf("message %d = %+v; want %+v", i, m, sent[i])
		}
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(got.wait(t, 0, time.Second)); n != len(sent) {
		t.Errorf("received %d messages; the heartbeat should not match samples.*", n)
	}
}

// The first host of the transport URL is down: the connection fails over to the next.
func TestRabbitFailover(t *testing.T) {
	env := bedenv.Load(t)
	url := env.Get(t, "VMMON_TRANSPORT_URL")
	good, _ := transporturl.Parse(url)
	h := good.Hosts[0]
	multi := fmt.Sprintf("rabbit://%s:%s@127.0.0.1:1,%s:%s@%s/", h.Username, h.Password, h.Username, h.Password, h.Addr())
	ex, q := uniqueName(t), uniqueName(t)+"-q"
	cleanup(t, url, []string{ex}, []string{q})
	opts := rabbitOptions(t, multi)
	got := newCollected()
	startConsumer(t, opts, messaging.Queue{Name: q, Bindings: []messaging.Binding{
		{Exchange: messaging.Exchange{Name: ex}, RoutingKeys: []string{"#"}}}}, got.handler(t))
	pub := messaging.NewPublisher(opts, messaging.Exchange{Name: ex})
	defer pub.Close()
	m, _ := messaging.NewMessage("p", "e", messaging.PriorityInfo, "x")
	if err := pub.Publish(context.Background(), "k", m); err != nil {
		t.Fatal(err)
	}
	got.wait(t, 1, 10*time.Second)

	// With no host up, Publish says so promptly instead of hanging.
	down := messaging.NewPublisher(rabbitOptions(t, "rabbit://guest:guest@127.0.0.1:1,guest:guest@127.0.0.1:2/"), messaging.Exchange{Name: ex})
	err := down.Publish(context.Background(), "k", m)
	if !errors.Is(err, messaging.ErrUnavailable) || strings.Contains(err.Error(), h.Password+"@") {
		t.Errorf("publish with no broker: %v; want ErrUnavailable without the password", err)
	}
}

// When the broker drops every connection, the consumer reconnects by itself
// and the publisher reconnects on its next call; nothing is lost.
func TestRabbitReconnect(t *testing.T) {
	env := bedenv.Load(t)
	url := env.Get(t, "VMMON_TRANSPORT_URL")
	ex, q := uniqueName(t), uniqueName(t)+"-q"
	cleanup(t, url, []string{ex}, []string{q})
	opts := rabbitOptions(t, url)
	opts.Durable = true
	got := newCollected()
	startConsumer(t, opts, messaging.Queue{Name: q, Bindings: []messaging.Binding{
		{Exchange: messaging.Exchange{Name: ex}, RoutingKeys: []string{"#"}}}}, got.handler(t))
	pub := messaging.NewPublisher(opts, messaging.Exchange{Name: ex})
	defer pub.Close()
	ctx := context.Background()
	publish := func(i int) error {
		m, _ := messaging.NewMessage("p", "e", messaging.PriorityInfo, i)
		return pub.Publish(ctx, "k", m)
	}
	if err := publish(0); err != nil {
		t.Fatal(err)
	}
	got.wait(t, 1, 10*time.Second)
	out, err := rabbitmqctl(t, env, "close_all_connections", "vmmon functional test")
	if err != nil {
		t.Fatalf("rabbitmqctl close_all_connections: %v\n%s", err, out)
	}
	// The publisher's connection is gone; the first call may fail, the next reconnects.
	sent := 1
	for i := 1; i < 6; i++ {
		var perr error
		for try := 0; try < 3; try++ {
			if perr = publish(i); perr == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if perr != nil {
			t.Fatalf("publish %d after the broker dropped connections: %v", i, perr)
		}
		sent++
	}
	got.wait(t, sent, 20*time.Second)
}

// Quorum queues, and a passive declaration of an exchange that is absent,
// which must fail with a message that says what to fix.
func TestRabbitDeclarations(t *testing.T) {
	env := bedenv.Load(t)
	url := env.Get(t, "VMMON_TRANSPORT_URL")
	ex, q := uniqueName(t), uniqueName(t)+"-q"
	cleanup(t, url, []string{ex}, []string{q})
	opts := rabbitOptions(t, url)
	opts.Quorum = true
	opts.Durable = true
	got := newCollected()
	startConsumer(t, opts, messaging.Queue{Name: q, Bindings: []messaging.Binding{
		{Exchange: messaging.Exchange{Name: ex}, RoutingKeys: []string{"#"}}}}, got.handler(t))
	out, err := rabbitmqctl(t, env, "-q", "list_queues", "name", "type")
	if err != nil {
		t.Fatalf("list_queues: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), q+"\tquorum") {
		t.Errorf("queue %s is not a quorum queue:\n%s", q, out)
	}

	passive := rabbitOptions(t, url)
	passive.Passive = true
	pub := messaging.NewPublisher(passive, messaging.Exchange{Name: ex + "-absent"})
	defer pub.Close()
	m, _ := messaging.NewMessage("p", "e", messaging.PriorityInfo, 1)
	err = pub.Publish(context.Background(), "k", m)
	if err == nil || !strings.Contains(err.Error(), "passive=true") || !strings.Contains(err.Error(), "404") {
		t.Errorf("passive declaration of an absent exchange: %v", err)
	}

	// A durability mismatch with an existing exchange is refused by the broker
	// and reported with the option to change.
	mismatch := rabbitOptions(t, url)
	mismatch.Durable = false
	pub2 := messaging.NewPublisher(mismatch, messaging.Exchange{Name: ex})
	defer pub2.Close()
	err = pub2.Publish(context.Background(), "k", m)
	if err == nil || !strings.Contains(err.Error(), "amqp_durable_queues") || !strings.Contains(err.Error(), "PRECONDITION_FAILED") {
		t.Errorf("durability mismatch: %v", err)
	}
}
