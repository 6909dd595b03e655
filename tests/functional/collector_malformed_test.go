//go:build functional

package functional

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/storage/embedded"
	"opendev.org/openstack/vmmon/vmmon/transporturl"
)

// 1,000 malformed messages (truncated JSON, wrong envelopes, wrong types,
// unknown versions, huge bodies) on both of the collector's streams leave it
// running: each is parked once, never retried, and a valid batch sent after
// them is stored.
func TestCollectorMalformedMessages(t *testing.T) {
	env := bedenv.Load(t)
	url := env.Get(t, "VMMON_TRANSPORT_URL")
	st, err := embedded.Open(t.TempDir(), storage.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ex := uniqueName(t) + "-vmmon"
	topic := uniqueName(t)
	q := testQueues(t, ex, topic)
	q.ParkingMax = 2000
	cleanupQueues(t, url, q)
	cleanup(t, url, []string{ex}, nil)
	c := startCollector(t, st, rabbitOptions(t, url), q)
	time.Sleep(2 * time.Second)

	u, _ := transporturl.Parse(url)
	conn, err := amqp.Dial(u.AMQPURI(0))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	good, _ := agentmsg.Wrap(agentmsg.ObjectBatch, agentmsg.Batch{Host: "h", Stream: "s", Seq: 1})
	bodies := [][]byte{
		[]byte(`{"oslo.version": "2.0", "oslo.message": "{\"event_type\": \"vmm`),
		[]byte(`not json at all`),
		[]byte(`{"oslo.version": "9.0", "oslo.message": "{}"}`),
		[]byte(`{"oslo.version": "2.0", "oslo.message": {"nested": "object"}}`),
		[]byte(`{"event_type": "vmmon.samples", "payload": {"vmmon_object.name": "SampleBatch", "vmmon_object.version": "1.0", "vmmon_object.data": {"seq": "x", "instances": 5}}}`),
		[]byte(`{"event_type": "vmmon.samples", "payload": {"vmmon_object.name": "SampleBatch", "vmmon_object.version": "7.0", "vmmon_object.data": {}}}`),
		[]byte(`{"event_type": "vmmon.samples", "payload": ` + string(good) + `, "timestamp": 12}`),
		[]byte(`[]`),
	}
	huge := []byte(`{"event_type": "x", "payload": "` + strings.Repeat("A", messaging.MaxBodyBytes+10) + `"}`)
	sent := 0
	publish := func(exchange, key string, body []byte) {
		if err := ch.PublishWithContext(context.Background(), exchange, key, false, false, amqp.Publishing{Body: body}); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	for i := 0; i < 1000; i++ {
		body := bodies[i%len(bodies)]
		if i%100 == 0 {
			body = huge
		}
		if i%2 == 0 {
			publish(ex, "samples.h", body)
		} else if strings.HasPrefix(string(body), `{"event_type": "vmmon`) {
			publish(ex, "heartbeat.h", body)
		} else {
			publish("nova", topic+".info", body)
		}
	}
	until(t, 120*time.Second, "every malformed message parked", func() bool { return c.Stats().Parked >= sent })
	if c.Stats().Parked != sent {
		t.Errorf("parked %d of %d", c.Stats().Parked, sent)
	}
	// Still running: a valid batch is stored.
	opts := rabbitOptions(t, url)
	pub := messaging.NewPublisher(opts, messaging.Exchange{Name: ex})
	defer pub.Close()
	at := time.Now().UTC()
	b := agentmsg.Batch{Host: "h", Stream: "s", Seq: 1, Time: at, Instances: []agentmsg.Instance{{UUID: "0a0a0a0a-0000-4000-8000-000000000001",
		State: "running", Time: at, Metrics: []agentmsg.Metric{{Name: "cpu_util", Value: 1, Unit: "%", Kind: "rate"}}}}}
	payload, _ := agentmsg.Wrap(agentmsg.ObjectBatch, b)
	m := &messaging.Message{MessageID: messaging.NewUUID(), PublisherID: "vmmon-agent:h", EventType: agentmsg.EventSamples,
		Priority: "INFO", Timestamp: at, Payload: payload}
	if err := pub.Publish(context.Background(), "samples.h", m); err != nil {
		t.Fatal(err)
	}
	until(t, 20*time.Second, "the valid batch stored", func() bool { return c.Stats().Batches == 1 })
	out, err := rabbitmqctl(t, env, "-q", "list_queues", "name", "messages")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, q.Parking+"\t") && strings.TrimPrefix(line, q.Parking+"\t") != fmt.Sprint(sent) {
			t.Errorf("parking queue holds %q messages; want %d", strings.TrimPrefix(line, q.Parking+"\t"), sent)
		}
	}
}
