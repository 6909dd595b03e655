//go:build functional

package functional

import (
	"context"

	"fmt"
	amqp "github.com/rabbitmq/amqp091-go"
	"sort"
	"sync"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/alarms"
	"opendev.org/openstack/vmmon/vmmon/collector"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/transporturl"
)

// BenchmarkAlarmEvaluation drains the collector benchmark's load (150
// batches of 100 instances × 20 metrics from RabbitMQ into Cassandra) with
// one collector, without alarms and with 10,000 enabled alarms evaluated
// in the same process from a queue of its own (5 on each instance's
// metric). The alarms start in ok, as alarms that have run for a while.
// In "quiet" their thresholds stay above the values (evaluation alone); in
// "crossing" they are spread so that each goes to alarm once as the values
// rise (about 70 transitions per batch, a storm). Metrics: points/s of the
// collector, transitions recorded, and the transition latency from the
// batch's arrival at the evaluator to the durable transition (p50, p99).
//
//	make bed && go test -tags functional -run '^$' -bench AlarmEvaluation -benchtime 1x ./tests/functional/
func BenchmarkAlarmEvaluation(b *testing.B) {
	url := bedEnvURL(b)
	for _, tc := range []struct {
		n     int
		cross bool
	}{{0, false}, {10000, false}, {10000, true}} {
		n, cross := tc.n, tc.cross
		name := fmt.Sprintf("alarms-%d", n)
		if n > 0 {
			name += map[bool]string{true: "-crossing", false: "-quiet"}[cross]
		}
		b.Run(name, func(b *testing.B) {
			store := openCassandra(b)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ex := fmt.Sprintf("bench-%d-alarms", time.Now().UnixNano())
			q := collector.Queues{Agent: ex + "-agent", Nova: ex + "-nova", Parking: ex + "-parked", ParkingMax: 100,
				AgentExchange: ex, NovaExchange: "nova", NotificationTopics: []string{ex}, RollupInterval: 5 * time.Second, Workers: 8}
			const batches = 150
			bodies := batchMessages(batches, "bench")
			var (
				mu        sync.Mutex
				arrived   = map[time.Time]time.Time{} // batch time → when the evaluator got it
				latencies []time.Duration
				batchTime time.Time
			)
			var engineDone chan struct{}
			if n > 0 {
				createBenchAlarms(b, store, n, cross)
				engine := alarms.NewEngine(store, alarms.EngineConfig{Owner: ex, Refresh: 5 * time.Second, LeaseTTL: time.Minute,
					OnTransition: func(t alarms.Transition) {
						mu.Lock()
						if at, ok := arrived[t.State.Time]; ok {
							latencies = append(latencies, time.Since(at))
						}
						mu.Unlock()
					}}, nil)
				// The engine's clock is the batches' (they are timed ahead).
				engine.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return batchTime })
				// A point of each series just before the load: the windows
				// refilled on taking the shards hold data, as in a running cloud.
				start := time.Now().UTC().Truncate(time.Minute)
				var seed []storage.Sample
				for k := 0; k < 100; k++ {
					for m := 0; m < 20; m++ {
						seed = append(seed, storage.Sample{InstanceID: fmt.Sprintf("be0c0000-0000-4000-8000-%012d", k), Metric: fmt.Sprintf("metric.%02d", m),
							Time: start.Add(-time.Second), Value: 0, Unit: "B", Kind: "gauge", ProjectID: "p", Host: "bench"})
					}
				}
				if err := store.WriteSamples(ctx, seed); err != nil {
					b.Fatal(err)
				}
				mu.Lock()
				batchTime = start.Add(-500 * time.Millisecond)
				mu.Unlock()
				if err := engine.Refresh(ctx); err != nil {
					b.Fatal(err)
				}
				handler := func(ctx context.Context, d messaging.Delivery) messaging.Outcome {
					m, err := messaging.Decode(d.Body)
					var bt agentmsg.Batch
					if err == nil && agentmsg.Unwrap(m.Payload, agentmsg.ObjectBatch, &bt) == nil {
						mu.Lock()
						batchTime = bt.Time.UTC()
						arrived[bt.Time.UTC()] = time.Now()
						mu.Unlock()
					}
					return engine.HandleDelivery(ctx, d)
				}
				// The evaluator's own queue, bound before the load is published.
				aq := ex + "-alarms"
				consumer := messaging.NewConsumer(rabbitOptions(nil, url), messaging.Queue{Name: aq, Transient: true,
					Bindings: []messaging.Binding{{Exchange: messaging.Exchange{Name: ex}, RoutingKeys: []string{"samples.*"}}}})
				declareExchange(b, url, ex)
				go func() { _ = consumer.Run(ctx, handler) }()
				time.Sleep(2 * time.Second)
				engineDone = make(chan struct{})
				go func() { _ = engine.Run(ctx); close(engineDone) }()
			}
			preload(b, url, q, ex, "samples.bench", bodies)
			b.ResetTimer()
			t0 := time.Now()
			c := collector.New(store, nil)
			done := make(chan struct{})
			go func() { _ = c.Run(ctx, rabbitOptions(nil, url), q); close(done) }()
			for c.Stats().Samples < batches*2000 {
				time.Sleep(50 * time.Millisecond)
				if time.Since(t0) > 10*time.Minute {
					b.Fatalf("only %d points after 10 minutes", c.Stats().Samples)
				}
			}
			el := time.Since(t0)
			b.ReportMetric(float64(c.Stats().Samples)/el.Seconds(), "points/s")
			if n > 0 && cross {
				// Let the evaluator finish what the load caused.
				want := n * 9 / 10
				for t1 := time.Now(); time.Since(t1) < 3*time.Minute; time.Sleep(200 * time.Millisecond) {
					mu.Lock()
					got := len(latencies)
					mu.Unlock()
					if got >= want {
						break
					}
				}
				mu.Lock()
				ls := append([]time.Duration(nil), latencies...)
				mu.Unlock()
				sort.Slice(ls, func(i, j int) bool { return ls[i] < ls[j] })
				b.ReportMetric(float64(len(ls)), "transitions")
				if len(ls) > 0 {
					b.ReportMetric(float64(ls[len(ls)/2].Milliseconds()), "p50-ms")
					b.ReportMetric(float64(ls[len(ls)*99/100].Milliseconds()), "p99-ms")
				}
			}
			cancel()
			<-done
			if engineDone != nil {
				<-engineDone
			}
			deleteBenchQueues(b, url, q, ex)
		})
	}
}

// createBenchAlarms stores n alarms on the benchmark's instances and
// metrics, in ok; crossing spreads their thresholds over the values the
// load brings, otherwise they stay above them (evaluation alone).
func createBenchAlarms(b *testing.B, store storage.Store, n int, crossing bool) {
	b.Helper()
	now := time.Now().UTC()
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				inst, metric := (i/5)%100, (i/500)%20
				threshold := 1e9
				if crossing {
					threshold = float64(i%140) + 0.5
				}
				a := storage.Alarm{ID: fmt.Sprintf("be0a0000-0000-4000-8000-%012d", i), Name: "bench", ProjectID: "p", UserID: "u",
					Metric: fmt.Sprintf("metric.%02d", metric), InstanceID: fmt.Sprintf("be0c0000-0000-4000-8000-%012d", inst),
					Aggregation: "mean", Window: 10, Comparison: "gt", Threshold: threshold, EvaluationPeriods: 1, Severity: "low",
					Enabled: true, CreatedAt: now, UpdatedAt: now}
				if err := store.PutAlarm(context.Background(), a); err != nil {
					b.Error(err)
				}
				st := storage.AlarmState{AlarmID: a.ID, State: storage.AlarmOK, Previous: storage.AlarmInsufficientData, Reason: "bench",
					Time: now, Version: 2, Transition: 2}
				if err := store.SetAlarmState(context.Background(), st); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
}

// declareExchange declares the benchmark's exchange as the collector would,
// so that the evaluator's queue can bind to it before the load arrives.
func declareExchange(b *testing.B, url, ex string) {
	b.Helper()
	u, _ := transporturl.Parse(url)
	conn, err := amqp.Dial(u.AMQPURI(0))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ch, _ := conn.Channel()
	if err := ch.ExchangeDeclare(ex, "topic", false, false, false, false, nil); err != nil {
		b.Fatal(err)
	}
}
