//go:build functional

package functional

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"opendev.org/openstack/vmmon/tests/bedenv"

	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/collector"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/transporturl"
)

// preload declares the collector's queue as it would and fills it.
func preload(b *testing.B, url string, q collector.Queues, ex, key string, bodies [][]byte) {
	b.Helper()
	u, _ := transporturl.Parse(url)
	conn, err := amqp.Dial(u.AMQPURI(0))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ch, _ := conn.Channel()
	queue := q.Agent
	if ex == "nova" {
		queue = q.Nova
	}
	if err := ch.ExchangeDeclare(ex, "topic", false, false, false, false, nil); err != nil {
		b.Fatal(err)
	}
	if _, err := ch.QueueDeclare(queue, false, false, false, false, amqp.Table{"x-dead-letter-exchange": q.Parking + ".exchange"}); err != nil {
		b.Fatal(err)
	}
	if err := ch.QueueBind(queue, key, ex, false, nil); err != nil {
		b.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		b.Fatal(err)
	}
	for _, body := range bodies {
		dc, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), ex, key, false, false, amqp.Publishing{Body: body, DeliveryMode: 2})
		if err != nil {
			b.Fatal(err)
		}
		if !dc.Wait() {
			b.Fatal("nacked")
		}
	}
}

func batchMessages(n int, host string) [][]byte {
	var out [][]byte
	start := time.Now().UTC().Truncate(time.Minute)
	for i := 0; i < n; i++ {
		at := start.Add(time.Duration(i) * 10 * time.Second)
		b := agentmsg.Batch{Host: host, Stream: "bench", Seq: uint64(i + 1), Time: at}
		for k := 0; k < 100; k++ {
			in := agentmsg.Instance{UUID: fmt.Sprintf("be0c0000-0000-4000-8000-%012d", k), State: "running", Time: at,
				Nova: &agentmsg.Nova{Name: "b", ProjectID: "p"}}
			for m := 0; m < 20; m++ {
				in.Metrics = append(in.Metrics, agentmsg.Metric{Name: fmt.Sprintf("metric.%02d", m), Value: float64(i), Unit: "B", Kind: "gauge"})
			}
			b.Instances = append(b.Instances, in)
		}
		payload, _ := agentmsg.Wrap(agentmsg.ObjectBatch, b)
		body, _ := messaging.Encode(&messaging.Message{MessageID: messaging.NewUUID(), PublisherID: "vmmon-agent:" + host,
			EventType: agentmsg.EventSamples, Priority: "INFO", Timestamp: at, Payload: payload})
		out = append(out, body)
	}
	return out
}

// BenchmarkCollectorThroughput drains agent batches (100 instances × 20
// metrics) from RabbitMQ into Cassandra with one and with two collectors, and
// Nova notifications with one. Metrics: points/s, notifications/s.
//
//	make bed && go test -tags functional -run '^$' -bench CollectorThroughput -benchtime 1x ./tests/functional/
func BenchmarkCollectorThroughput(b *testing.B) {
	url := bedEnvURL(b)
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("batches-%d-collectors", n), func(b *testing.B) {
			store := openCassandra(b)
			ex := fmt.Sprintf("bench-%d-vmmon", time.Now().UnixNano())
			q := collector.Queues{Agent: ex + "-agent", Nova: ex + "-nova", Parking: ex + "-parked", ParkingMax: 100,
				AgentExchange: ex, NovaExchange: "nova", NotificationTopics: []string{ex}, RollupInterval: 5 * time.Second, Workers: 8}
			batches := 150
			preload(b, url, q, ex, "samples.bench", batchMessages(batches, "bench"))
			b.ResetTimer()
			t0 := time.Now()
			self0, cass0 := selfCPU(), cassandraCPU(b)
			var cs []*collector.Collector
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{}, n)
			for i := 0; i < n; i++ {
				c := collector.New(store, nil)
				cs = append(cs, c)
				go func() { _ = c.Run(ctx, rabbitOptions(nil, url), q); done <- struct{}{} }()
			}
			total := 0
			for total < batches*2000 {
				time.Sleep(50 * time.Millisecond)
				total = 0
				for _, c := range cs {
					total += c.Stats().Samples
				}
				if time.Since(t0) > 5*time.Minute {
					b.Fatalf("only %d points after 5 minutes", total)
				}
			}
			el := time.Since(t0)
			self1, cass1 := selfCPU(), cassandraCPU(b)
			cancel()
			for i := 0; i < n; i++ {
				<-done
			}
			b.ReportMetric(float64(total)/el.Seconds(), "points/s")
			// CPU per point of the collectors (this process) and of Cassandra.
			b.ReportMetric(float64((self1-self0).Microseconds())/float64(total), "collector-cpu-µs/point")
			b.ReportMetric(float64((cass1-cass0).Microseconds())/float64(total), "cassandra-cpu-µs/point")
			deleteBenchQueues(b, url, q, ex)
		})
	}
	b.Run("notifications-1-collector", func(b *testing.B) {
		store := openCassandra(b)
		ex := fmt.Sprintf("bench-%d-nova", time.Now().UnixNano())
		q := collector.Queues{Agent: ex + "-agent", Nova: ex + "-nova", Parking: ex + "-parked", ParkingMax: 100,
			AgentExchange: ex + "-vmmon", NovaExchange: "nova", NotificationTopics: []string{ex}, RollupInterval: 5 * time.Second, Workers: 8}
		raw, err := os.ReadFile(filepath.Join("..", "..", "vmmon", "collector", "testdata", "instance-update.json"))
		if err != nil {
			b.Fatal(err)
		}
		var sample map[string]any
		_ = json.Unmarshal(raw, &sample)
		var bodies [][]byte
		for i := 0; i < 3000; i++ {
			inner := map[string]any{}
			for k, v := range sample {
				inner[k] = v
			}
			p := sample["payload"].(map[string]any)
			d := map[string]any{}
			for k, v := range p["nova_object.data"].(map[string]any) {
				d[k] = v
			}
			d["uuid"] = fmt.Sprintf("be111000-0000-4000-8000-%012d", i%500)
			inner["payload"] = map[string]any{"nova_object.name": p["nova_object.name"], "nova_object.version": p["nova_object.version"],
				"nova_object.namespace": "nova", "nova_object.data": d}
			inner["message_id"] = messaging.NewUUID()
			inner["timestamp"] = time.Now().UTC().Add(time.Duration(i) * time.Millisecond).Format(messaging.TimestampLayout)
			m, _ := json.Marshal(inner)
			s, _ := json.Marshal(string(m))
			bodies = append(bodies, []byte(`{"oslo.version": "2.0", "oslo.message": `+string(s)+`}`))
		}
		preload(b, url, q, "nova", ex+".info", bodies)
		b.ResetTimer()
		t0 := time.Now()
		c := collector.New(store, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = c.Run(ctx, rabbitOptions(nil, url), q); close(done) }()
		for c.Stats().NovaEvents < len(bodies) {
			time.Sleep(50 * time.Millisecond)
			if time.Since(t0) > 5*time.Minute {
				b.Fatalf("only %d notifications after 5 minutes", c.Stats().NovaEvents)
			}
		}
		el := time.Since(t0)
		cancel()
		<-done
		b.ReportMetric(float64(len(bodies))/el.Seconds(), "notifications/s")
		deleteBenchQueues(b, url, q, ex+"-vmmon")
	})
}

func deleteBenchQueues(b *testing.B, url string, q collector.Queues, ex string) {
	u, _ := transporturl.Parse(url)
	conn, err := amqp.Dial(u.AMQPURI(0))
	if err != nil {
		return
	}
	defer conn.Close()
	ch, _ := conn.Channel()
	for _, name := range []string{q.Agent, q.Nova, q.Parking} {
		_, _ = ch.QueueDelete(name, false, false, false)
	}
	_ = ch.ExchangeDelete(ex, false, false)
	_ = ch.ExchangeDelete(q.Parking+".exchange", false, false)
}

// selfCPU is the CPU time (user and system) of this process so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cassandraCPU is the CPU time of the bed's Cassandra so far.
func cassandraCPU(b *testing.B) time.Duration {
	raw, err := os.ReadFile(filepath.Join(bedenv.Dir(), "run", "cassandra.pid"))
	if err != nil {
		b.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		b.Fatalf("cassandra.pid: %v", err)
	}
	return procCPU(pid)
}

// procCPU is the CPU time (utime + stime) of process pid so far.
func procCPU(pid int) time.Duration {
	return time.Duration(procCPUTicks(pid)) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}
