//go:build functional

package functional

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/transporturl"
)

// poison is one message the collector must park, and why.
type poison struct {
	name, queue, reason string
	key                 string // routing key; on the nova exchange for the notifications queue
	body                []byte
}

// scrapeMetrics reads a Prometheus text page into series -> value.
func scrapeMetrics(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if i := strings.LastIndexByte(line, ' '); i > 0 && !strings.HasPrefix(line, "#") {
			if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
				out[line[:i]] = v
			}
		}
	}
	return out
}

// sumMetric adds the series of a metric whose labels hold every one of with.
func sumMetric(m map[string]float64, name string, with ...string) float64 {
	total := 0.0
	for k, v := range m {
		if k != name && !strings.HasPrefix(k, name+"{") {
			continue
		}
		ok := true
		for _, w := range with {
			ok = ok && strings.Contains(k, w)
		}
		if ok {
			total += v
		}
	}
	return total
}

func agentMessage(t *testing.T, id, eventType, object string, data any) []byte {
	t.Helper()
	payload, err := agentmsg.Wrap(object, data)
	if err != nil {
		t.Fatal(err)
	}
	body, err := messaging.Encode(&messaging.Message{MessageID: id, PublisherID: "vmmon-agent:poison", EventType: eventType,
		Priority: "INFO", Timestamp: time.Now().UTC(), Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func poisonBatch(host string, seq uint64, at time.Time, uuids ...string) agentmsg.Batch {
	b := agentmsg.Batch{Host: host, Stream: host + "-stream", Seq: seq, Time: at, Interval: 1}
	for k, u := range uuids {
		b.Instances = append(b.Instances, agentmsg.Instance{UUID: u, Name: "instance-" + host, State: "running", Time: at,
			Nova: &agentmsg.Nova{Name: "vm", ProjectID: "poison-project", UserID: "poison-user"},
			Metrics: []agentmsg.Metric{{Name: "cpu", Value: float64(seq*10) + float64(k), Unit: "ns", Kind: agentmsg.Cumulative},
				{Name: "disk.read.bytes", Device: "vda", Value: float64(seq), Unit: "B", Kind: agentmsg.Cumulative}}})
	}
	return b
}

// novaPoison is Nova's instance.create.end sample, changed by change, as a
// notification of time at.
func novaPoison(t *testing.T, id string, at time.Time, change func(data map[string]any)) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(samplesDir(t), "instance-create-end.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sample map[string]any
	if err := json.Unmarshal(raw, &sample); err != nil {
		t.Fatal(err)
	}
	change(sample["payload"].(map[string]any)["nova_object.data"].(map[string]any))
	payload, _ := json.Marshal(sample["payload"])
	body, err := messaging.Encode(&messaging.Message{MessageID: id, PublisherID: "nova-compute:poison", EventType: "instance.create.end",
		Priority: "INFO", Timestamp: at, Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// Every kind of poison, on both of a running vmmon-collector's queues
// against the bed's Cassandra, while an agent's good batches keep flowing:
// each poison is parked exactly once with its reason and nothing of it is
// stored, every good point is stored once, the collector never stops, and
// its /metrics counted it all. A batch with one bad instance is stored
// without it. Agents whose clocks are 5 minutes ahead and behind are
// flagged on their hosts in GET /v1/hosts/{host}; their points keep their
// times and the minute rollup of the shifted points is right.
func TestCollectorPoison(t *testing.T) {
	env := bedenv.Load(t)
	url := env.Get(t, "VMMON_TRANSPORT_URL")
	store := openCassandra(t)
	ctx := context.Background()
	prefix := uniqueName(t)
	ex, topic := prefix+"-vmmon", prefix+"-topic"
	cleanup(t, url, []string{ex, prefix + "-parked.exchange"}, []string{prefix + "-agent", prefix + "-nova", prefix + "-parked"})
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", freePort(t))
	cfg := writeConfig(t, fmt.Sprintf("[DEFAULT]\ntransport_url = %s\ncontrol_exchange = %s\n[oslo_messaging_rabbit]\n"+
		"rabbit_retry_interval = 0.2\nrabbit_retry_backoff = 0.2\nrabbit_interval_max = 1\n[oslo_messaging_notifications]\ntopics = %s\n"+
		"[collector]\nagent_queue = %s-agent\nnotification_queue = %s-nova\nparking_queue = %s-parked\nrollup_interval = 1\n"+
		"max_clock_skew = 30\nmetrics_bind = %s\n", url, ex, topic, prefix, prefix, prefix,
		strings.TrimSuffix(strings.TrimPrefix(metricsURL, "http://"), "/metrics"))+cassandraSection(t, env, store.Keyspace()))
	col := collectorProcess(t, buildCmd(t, "vmmon/cmd/vmmon-collector"), cfg)
	exited := make(chan error, 1)
	go func() { exited <- col.Wait() }()
	t.Cleanup(func() {
		_ = col.Process.Kill()
		<-exited
	})
	until(t, 30*time.Second, "the collector serving /metrics", func() bool {
		resp, err := http.Get(metricsURL)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})

	pub := messaging.NewPublisher(rabbitOptions(t, url), messaging.Exchange{Name: ex})
	defer pub.Close()
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
	publish := func(p poison) {
		t.Helper()
		var err error
		if p.queue == "notifications" {
			err = ch.PublishWithContext(ctx, "nova", topic+".info", false, false, amqp.Publishing{Body: p.body})
		} else {
			err = pub.PublishBody(ctx, p.key, p.body)
		}
		if err != nil {
			t.Fatalf("publishing %s: %v", p.name, err)
		}
	}

	// The good agent: 5 instances every 100 ms, from its first batch (once
	// the collector's queue is bound: publishing is mandatory) to the end.
	var (
		mu   sync.Mutex
		good []agentmsg.Batch
	)
	goodIDs := []string{}
	for k := 0; k < 5; k++ {
		goodIDs = append(goodIDs, fmt.Sprintf("9d000000-0000-4000-8000-%012d", k))
	}
	sendGood := func(seq uint64) error {
		b := poisonBatch("poison-good", seq, time.Now().UTC().Truncate(time.Millisecond), goodIDs...)
		if err := pub.Publish(ctx, agentmsg.RoutingKey(agentmsg.KindSamples, b.Host), &messaging.Message{MessageID: messaging.NewUUID(),
			PublisherID: "vmmon-agent:poison-good", EventType: agentmsg.EventSamples, Priority: "INFO", Timestamp: b.Time,
			Payload: mustWrap(t, b)}); err != nil {
			return err
		}
		mu.Lock()
		good = append(good, b)
		mu.Unlock()
		return nil
	}
	until(t, 30*time.Second, "the collector's queue bound", func() bool {
		err := sendGood(1)
		if err != nil && !errors.Is(err, messaging.ErrUnroutable) {
			t.Fatal(err)
		}
		return err == nil
	})
	stopGood := make(chan struct{})
	goodDone := make(chan struct{})
	go func() {
		defer close(goodDone)
		for seq := uint64(2); ; seq++ {
			select {
			case <-stopGood:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if err := sendGood(seq); err != nil {
				t.Errorf("good batch %d: %v", seq, err)
				return
			}
		}
	}()

	// The poisons.
	now := time.Now().UTC()
	evil, ok := "../../etc/passwd", "9d000000-0000-4000-8000-0000000000aa"
	batch := func(change func(b *agentmsg.Batch)) func(id string) []byte {
		return func(id string) []byte {
			b := poisonBatch("poison-bad", 1, now, ok)
			change(&b)
			return agentMessage(t, id, agentmsg.EventSamples, agentmsg.ObjectBatch, b)
		}
	}
	literal := func(lit string) func(id string) []byte {
		return func(id string) []byte {
			b := poisonBatch("poison-bad", 1, now, ok)
			b.Instances[0].Metrics[0].Value = 123456789
			return []byte(strings.Replace(string(agentMessage(t, id, agentmsg.EventSamples, agentmsg.ObjectBatch, b)), "123456789", lit, 1))
		}
	}
	kinds := []struct {
		name, queue, reason, key string
		body                     func(id string) []byte
	}{
		{"instance uuid ../../etc/passwd", "agent", "invalid_uuid", "samples.poison-bad", batch(func(b *agentmsg.Batch) { b.Instances[0].UUID = evil })},
		{"empty instance uuid", "agent", "invalid_uuid", "samples.poison-bad", batch(func(b *agentmsg.Batch) { b.Instances[0].UUID = "" })},
		{"metric names of 70,000 bytes", "agent", "invalid_name", "samples.poison-bad", batch(func(b *agentmsg.Batch) {
			for i := range b.Instances[0].Metrics {
				b.Instances[0].Metrics[i].Name = strings.Repeat("m", 70000)
			}
		})},
		{"device names of 300 bytes", "agent", "invalid_name", "samples.poison-bad", batch(func(b *agentmsg.Batch) {
			for i := range b.Instances[0].Metrics {
				b.Instances[0].Metrics[i].Device = strings.Repeat("d", 300)
			}
		})},
		{"values of -1.7e308", "agent", "invalid_value", "samples.poison-bad", batch(func(b *agentmsg.Batch) {
			for i := range b.Instances[0].Metrics {
				b.Instances[0].Metrics[i].Value = -math.MaxFloat64
			}
		})},
		{"NaN (as Python writes it)", "agent", "undecodable", "samples.poison-bad", literal("NaN")},
		{"Infinity (1e999)", "agent", "undecodable", "samples.poison-bad", literal("1e999")},
		{"timestamps a year old", "agent", "too_old", "samples.poison-bad", batch(func(b *agentmsg.Batch) {
			b.Instances[0].Time = now.AddDate(-1, 0, 0)
		})},
		{"timestamps a day ahead", "agent", "too_new", "samples.poison-bad", batch(func(b *agentmsg.Batch) {
			b.Instances[0].Time = now.Add(24 * time.Hour)
		})},
		{"empty host", "agent", "invalid_name", "samples.poison-bad", batch(func(b *agentmsg.Batch) { b.Host = "" })},
		{"heartbeat without a time", "agent", "invalid_timestamp", "heartbeat.poison-bad", func(id string) []byte {
			return agentMessage(t, id, agentmsg.EventHeartbeat, agentmsg.ObjectHeartbeat, agentmsg.Heartbeat{Host: "poison-bad", Interval: 1})
		}},
		{"lifecycle event of ../../etc/passwd", "agent", "invalid_uuid", "events.poison-bad", func(id string) []byte {
			return agentMessage(t, id, agentmsg.EventLifecycle, agentmsg.ObjectEvent, agentmsg.Event{Host: "poison-bad", UUID: evil,
				Event: "started", Time: now})
		}},
		{"Nova: uuid ../../etc/passwd", "notifications", "invalid_uuid", "", func(id string) []byte {
			return novaPoison(t, id, now, func(d map[string]any) { d["uuid"] = evil })
		}},
		{"Nova: empty uuid", "notifications", "invalid_uuid", "", func(id string) []byte {
			return novaPoison(t, id, now, func(d map[string]any) { d["uuid"] = "" })
		}},
		{"Nova: host of 70,000 bytes", "notifications", "invalid_name", "", func(id string) []byte {
			return novaPoison(t, id, now, func(d map[string]any) { d["uuid"], d["host"] = ok, strings.Repeat("h", 70000) })
		}},
		{"Nova: a day ahead", "notifications", "too_new", "", func(id string) []byte {
			return novaPoison(t, id, now.Add(24*time.Hour), func(d map[string]any) { d["uuid"] = ok })
		}},
	}
	type figure struct {
		name     string
		recovery time.Duration
	}
	var figures []figure
	before := scrapeMetrics(t, metricsURL)
	for i, k := range kinds {
		p := poison{name: k.name, queue: k.queue, reason: k.reason, key: k.key, body: k.body(fmt.Sprintf("poison-%02d", i))}
		parked := sumMetric(scrapeMetrics(t, metricsURL), "vmmon_collector_parked_total")
		t0 := time.Now()
		publish(p)
		// Polled every 10 ms: the figure is when the collector was done with it.
		for sumMetric(scrapeMetrics(t, metricsURL), "vmmon_collector_parked_total") <= parked {
			if time.Since(t0) > 30*time.Second {
				t.Fatalf("%s: not parked within 30 s", p.name)
			}
			time.Sleep(10 * time.Millisecond)
		}
		figures = append(figures, figure{p.name, time.Since(t0)})
		m := scrapeMetrics(t, metricsURL)
		if n := sumMetric(m, "vmmon_collector_parked_total", `queue="`+p.queue+`"`, `reason="`+p.reason+`"`) -
			sumMetric(before, "vmmon_collector_parked_total", `queue="`+p.queue+`"`, `reason="`+p.reason+`"`); n < 1 {
			t.Errorf("%s: not parked as %s/%s: %v", p.name, p.queue, p.reason, m)
		}
		before = m
	}

	// A batch with one good instance and one poisoned: the good one stored.
	partial := poisonBatch("poison-partial", 1, now, ok, evil)
	if err := pub.PublishBody(ctx, "samples.poison-partial", agentMessage(t, "partial", agentmsg.EventSamples, agentmsg.ObjectBatch, partial)); err != nil {
		t.Fatal(err)
	}

	// Agents whose clocks are shifted: 5 minutes ahead (a heartbeat and a
	// batch), and 5 minutes behind (a heartbeat and three batches in one
	// minute, whose rollup is checked).
	clock := time.Now().UTC()
	ahead, behindID := clock.Add(5*time.Minute).Truncate(time.Millisecond), "9d000000-0000-4000-8000-0000000000bb"
	aheadBatch := poisonBatch("poison-ahead", 1, ahead, "9d000000-0000-4000-8000-0000000000ab")
	bucket := clock.Add(-5 * time.Minute).Truncate(time.Minute)
	shifted := []struct {
		key  string
		body []byte
	}{
		{"heartbeat.poison-ahead", agentMessage(t, "ahead-hb", agentmsg.EventHeartbeat, agentmsg.ObjectHeartbeat,
			agentmsg.Heartbeat{Host: "poison-ahead", Time: ahead, Interval: 60})},
		{"samples.poison-ahead", agentMessage(t, "ahead-batch", agentmsg.EventSamples, agentmsg.ObjectBatch, aheadBatch)},
		{"heartbeat.poison-behind", agentMessage(t, "behind-hb", agentmsg.EventHeartbeat, agentmsg.ObjectHeartbeat,
			agentmsg.Heartbeat{Host: "poison-behind", Time: clock.Add(-5 * time.Minute), Interval: 60})},
	}
	for i := 1; i <= 3; i++ {
		b := poisonBatch("poison-behind", uint64(i), bucket.Add(time.Duration(i)*10*time.Second), behindID)
		shifted = append(shifted, struct {
			key  string
			body []byte
		}{"samples.poison-behind", agentMessage(t, fmt.Sprint("behind-", i), agentmsg.EventSamples, agentmsg.ObjectBatch, b)})
	}
	for _, m := range shifted {
		if err := pub.PublishBody(ctx, m.key, m.body); err != nil {
			t.Fatal(err)
		}
	}

	// Good batches for two more seconds, then every one of them stored.
	time.Sleep(2 * time.Second)
	close(stopGood)
	<-goodDone
	mu.Lock()
	sent := append([]agentmsg.Batch(nil), good...)
	mu.Unlock()
	last := sent[len(sent)-1]
	until(t, 60*time.Second, "every good batch stored", func() bool {
		h, err := store.GetHost(ctx, "poison-good")
		return err == nil && h.LastSeq >= last.Seq
	})
	select {
	case err := <-exited:
		t.Fatalf("the collector stopped: %v", err)
	default:
	}
	h, _ := store.GetHost(ctx, "poison-good")
	if h.SeqGaps != 0 || h.LastSeq != uint64(len(sent)) {
		t.Errorf("good host %+v; want %d batches without gaps", h, len(sent))
	}
	verifyStored(t, store, sent)
	storedPoints := 0
	for _, id := range goodIDs {
		res, err := store.Measures(ctx, storage.MeasureQuery{InstanceID: id, Metric: "cpu", Start: sent[0].Time, End: last.Time.Add(time.Millisecond)})
		if err == nil && len(res) == 1 {
			storedPoints += len(res[0].Points)
		}
	}

	// Nothing of the poison stored or listed.
	if _, err := store.GetInstance(ctx, evil); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("instance %s: %v", evil, err)
	}
	list, err := store.ListInstances(ctx, storage.InstanceQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range list {
		if len(in.ID) != 36 || strings.ContainsAny(in.ID, "./") {
			t.Errorf("instance %q listed", in.ID)
		}
	}
	if _, err := store.GetHost(ctx, "poison-bad"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("host poison-bad recorded: %v", err)
	}
	until(t, 30*time.Second, "the partly poisoned batch stored", func() bool {
		_, err := store.GetInstance(ctx, ok)
		return err == nil
	})

	// The shifted clocks, as GET /v1/hosts/{host} shows them.
	apiPort := freePort(t)
	base, _, _ := runAPI(t, writeConfig(t, fmt.Sprintf("[DEFAULT]\ntransport_url = %s\n[api]\nbind_host = 127.0.0.1\nbind_port = %d\n"+
		"[keystone_authtoken]\nauth_url = %s\nusername = vmmon\npassword = %s\nproject_name = service\n",
		url, apiPort, env.Get(t, "VMMON_KEYSTONE_URL"), env.Get(t, "VMMON_TEST_PASSWORD"))+cassandraSection(t, env, store.Keyspace())), apiPort)
	token := tokenFor(t, env, "admin", "admin", env.Get(t, "VMMON_KEYSTONE_ADMIN_PASSWORD"))
	getHost := func(name string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/v1/hosts/"+name, nil)
		req.Header.Set("X-Auth-Token", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct{ Host map[string]any }
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil {
			return nil
		}
		return out.Host
	}
	for host, want := range map[string]float64{"poison-ahead": 300, "poison-behind": -300} {
		var got map[string]any
		until(t, 30*time.Second, host+" flagged", func() bool { got = getHost(host); return got != nil && got["clock_skew_s"] != nil })
		if skew, _ := got["clock_skew_s"].(float64); math.Abs(skew-want) > 10 || got["status"] != "up" {
			t.Errorf("GET /v1/hosts/%s: %v; want clock_skew_s near %v and status up", host, got, want)
		}
	}
	// The good agent's host, known from its batches only, is not flagged.
	if got := getHost("poison-good"); got == nil || got["clock_skew_s"] != nil {
		t.Errorf("GET /v1/hosts/poison-good: %v", got)
	}
	res, err := store.Measures(ctx, storage.MeasureQuery{InstanceID: aheadBatch.Instances[0].UUID, Metric: "cpu", Start: ahead, End: ahead.Add(time.Millisecond)})
	if err != nil || len(res) != 1 || len(res[0].Points) != 1 || res[0].Points[0].Value != 10 {
		t.Errorf("the point 5 minutes ahead: %+v, %v", res, err)
	}
	// Minute rollup of the agent 5 minutes behind: cpu 10, 20, 30.
	until(t, 60*time.Second, "the rollup of the points 5 minutes behind", func() bool {
		res, err := store.Measures(ctx, storage.MeasureQuery{InstanceID: behindID, Metric: "cpu", Start: bucket, End: bucket.Add(time.Minute),
			Granularity: time.Minute, Aggregation: "mean"})
		return err == nil && len(res) == 1 && len(res[0].Points) == 1 && res[0].Points[0].Value == 20
	})

	// The broker's side: the working queues empty, each poison parked once.
	m := scrapeMetrics(t, metricsURL)
	queues, err := rabbitmqctl(t, env, "-q", "list_queues", "name", "messages")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(queues), "\n") {
		name, n, _ := strings.Cut(line, "\t")
		if (name == prefix+"-agent" || name == prefix+"-nova") && n != "0" {
			t.Errorf("queue %s holds %s messages", name, n)
		}
	}
	copies := map[string]int{}
	for {
		d, ok, err := ch.Get(prefix+"-parked", true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		for i := range kinds {
			if strings.Contains(string(d.Body), fmt.Sprintf(`poison-%02d\"`, i)) {
				copies[kinds[i].name]++
			}
		}
	}
	lost, extra := len(sent)*len(goodIDs)-storedPoints, 0
	if lost < 0 {
		lost, extra = 0, -lost
	}
	for _, f := range figures {
		if copies[f.name] != 1 {
			t.Errorf("%s: parked %d times; want once", f.name, copies[f.name])
		}
		t.Logf("fault %-36s parked %d time(s); good points lost %d, duplicated %d; recovery (published to parked) %v",
			f.name, copies[f.name], lost, extra+max(0, copies[f.name]-1), f.recovery.Round(time.Millisecond))
	}
	for _, c := range []struct {
		what string
		got  float64
		want float64
	}{
		{"parked", sumMetric(m, "vmmon_collector_parked_total"), float64(len(kinds))},
		{"deliveries parked", sumMetric(m, "vmmon_collector_deliveries_total", `outcome="parked"`), float64(len(kinds))},
		{"deliveries acked", sumMetric(m, "vmmon_collector_deliveries_total", `outcome="acked"`), float64(len(sent) + 1 + len(shifted))},
		{"deliveries requeued", sumMetric(m, "vmmon_collector_deliveries_total", `outcome="requeued"`), 0},
		{"storage retries", sumMetric(m, "vmmon_collector_storage_retries_total"), 0},
		{"dropped instances", sumMetric(m, "vmmon_collector_dropped_total", `item="instance"`, `reason="invalid_uuid"`), 1},
		{"skewed heartbeats", sumMetric(m, "vmmon_collector_clock_skewed_messages_total", `kind="heartbeat"`), 2},
		{"skewed batches", sumMetric(m, "vmmon_collector_clock_skewed_messages_total", `kind="batch"`), 1},
		{"good host's gaps", sumMetric(m, `vmmon_collector_agent_sequence_gaps{host="poison-good"}`), 0},
	} {
		if c.got != c.want {
			t.Errorf("/metrics %s: %v; want %v", c.what, c.got, c.want)
		}
	}
	if sumMetric(m, "vmmon_collector_samples_stored_total") < float64(len(sent)*len(goodIDs)*2) ||
		sumMetric(m, "vmmon_collector_storage_write_duration_seconds_count", `operation="write_samples"`) < float64(len(sent)) {
		t.Errorf("/metrics: samples or write durations not counted")
	}
	if sumMetric(m, "vmmon_collector_agent_clock_skew_seconds", `host="poison-ahead"`) < 290 {
		t.Errorf("/metrics: clock skew of poison-ahead not reported")
	}
	t.Logf("good agent: %d batches, %d points sent, %d stored; %d poisons parked; skew ahead flagged at %v s",
		len(sent), len(sent)*len(goodIDs), storedPoints, len(kinds), sumMetric(m, "vmmon_collector_agent_clock_skew_seconds", `host="poison-ahead"`))
}

func mustWrap(t *testing.T, data agentmsg.Batch) json.RawMessage {
	t.Helper()
	p, err := agentmsg.Wrap(agentmsg.ObjectBatch, data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
