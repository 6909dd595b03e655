//go:build functional

package functional

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon-agent/agent"
	"opendev.org/openstack/vmmon/vmmon-agent/hypervisor"
	"opendev.org/openstack/vmmon/vmmon-agent/spool"
	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/storage"
)

// streamRig is an agent on the 200-domain test driver publishing to an
// exchange of the test's own, with a tap queue that sees every batch.
type streamRig struct {
	ex   string
	seen *agentStream
	stop func()
}

// startStream starts the rig on url; its agent publishes its first batch
// once each queue in await (a collector's, started after the rig) has a
// consumer: a batch published before a queue is bound never reaches it.
func startStream(t *testing.T, url string, interval time.Duration, await ...string) *streamRig {
	t.Helper()
	return startStreamWith(t, url, rabbitOptions(t, url), interval, await...)
}

// startStreamWith is startStream with the broker options given for url (the
// tap queue is declared with them).
func startStreamWith(t *testing.T, url string, opts messaging.Options, interval time.Duration, await ...string) *streamRig {
	t.Helper()
	env := bedenv.Load(t)
	ex := uniqueName(t) + "-vmmon"
	tap := uniqueName(t) + "-tap"
	cleanup(t, url, []string{ex}, []string{tap})
	seen := &agentStream{}
	startConsumer(t, opts, messaging.Queue{Name: tap, Bindings: []messaging.Binding{{Exchange: messaging.Exchange{Name: ex},
		RoutingKeys: []string{"samples.*"}}}}, seen.handler(t))
	ready := func(ctx context.Context) {
		for _, q := range await {
			awaitConsumer(ctx, t, url, q, 60*time.Second)
		}
	}
	stop := runAgentAfter(t, opts, ex, agent.Config{Host: "bed-stream", LibvirtURI: env.Get(t, "VMMON_LIBVIRT_TEST_URI_200"),
		Interval: interval, Timeout: 5 * time.Second}, ready)
	return &streamRig{ex: ex, seen: seen, stop: stop}
}

// runAgent runs an agent inside the test, with a spool of its own,
// publishing to the exchange ex until stop (called at the test's end, if
// not before).
func runAgent(t *testing.T, opts messaging.Options, ex string, cfg agent.Config) (stop func()) {
	t.Helper()
	return runAgentAfter(t, opts, ex, cfg, nil)
}

// runAgentAfter is runAgent whose agent starts once ready (if not nil)
// returns.
func runAgentAfter(t *testing.T, opts messaging.Options, ex string, cfg agent.Config, ready func(context.Context)) (stop func()) {
	t.Helper()
	sp, err := spool.Open(filepath.Join(t.TempDir(), "spool"), 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	pub := messaging.NewPublisher(opts, messaging.Exchange{Name: ex})
	ag := agent.New(cfg, hypervisor.Dial, pub, sp, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		if ready != nil {
			ready(ctx)
		}
		_ = ag.Run(ctx)
		close(done)
	}()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
			pub.Close()
		}
	}
	t.Cleanup(stop)
	return stop
}

// finish stops the agent, waits (up to wait) until the collector stored every
// batch it published, whatever order its workers finish in, and checks them.
func (r *streamRig) finish(t *testing.T, store storage.Store, wait time.Duration) {
	t.Helper()
	r.stop()
	batches, _, _ := r.seen.snapshot()
	last := batches[len(batches)-1]
	var h storage.Host
	var err error
	deadline := time.Now().Add(wait)
	for {
		h, err = store.GetHost(context.Background(), last.Host)
		if err == nil && h.LastSeq >= last.Seq && h.SeqGaps == 0 {
			break
		}
		if time.Now().After(deadline) {
			_, problems, _ := storedDiff(store, batches)
			t.Fatalf("every batch stored: not within %v: the agent sent up to %d, the collector recorded up to %d with %d gaps (%v); %d batches seen: %v",
				wait, last.Seq, h.LastSeq, h.SeqGaps, err, len(batches), problems)
		}
		time.Sleep(200 * time.Millisecond)
	}
	verifyStored(t, store, batches)
}

// awaitConsumer waits (up to d, or until ctx ends) until queue exists on
// url's broker with a consumer; it reports through t.Log only, as it runs
// outside the test's goroutine: a queue never consumed shows in the test's
// checks.
func awaitConsumer(ctx context.Context, t *testing.T, url, queue string, d time.Duration) {
	deadline := time.Now().Add(d)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		if q, err := peekQueue(url, queue); err == nil && q.Consumers > 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ctx.Err() == nil {
		t.Logf("queue %s has no consumer after %v; the agent starts anyway", queue, d)
	}
}

// verifyStored checks that every cpu point of every batch is stored once,
// with its value, and returns how many instances it checked.
func verifyStored(t *testing.T, store storage.Store, batches []agentmsg.Batch) int {
	t.Helper()
	checked, problems, err := storedDiff(store, batches)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("%d batches verified point by point over %d instances", len(batches), checked)
	return checked
}

// storedDiff compares the cpu points of batches with what store holds: how
// many instances it checked, and what differs.
func storedDiff(store storage.Store, batches []agentmsg.Batch) (int, []string, error) {
	sent := map[string]map[time.Time]float64{}
	seqOf := map[time.Time]uint64{} // of the batch a point came in, for the report
	for _, b := range batches {
		for _, in := range b.Instances {
			for _, m := range in.Metrics {
				if m.Name == "cpu" {
					if sent[in.UUID] == nil {
						sent[in.UUID] = map[time.Time]float64{}
					}
					sent[in.UUID][in.Time.UTC().Truncate(time.Millisecond)] = m.Value
					seqOf[in.Time.UTC().Truncate(time.Millisecond)] = b.Seq
				}
			}
		}
	}
	var problems []string
	missing := 0
	missingSeqs := map[uint64]int{}
	for uuid, pts := range sent {
		var first, last time.Time
		for ts := range pts {
			if first.IsZero() || ts.Before(first) {
				first = ts
			}
			if ts.After(last) {
				last = ts
			}
		}
		res, err := store.Measures(context.Background(), storage.MeasureQuery{InstanceID: uuid, Metric: "cpu", Start: first, End: last.Add(time.Millisecond)})
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", uuid, err)
		}
		got := map[time.Time]float64{}
		for _, p := range res[0].Points {
			got[p.Time] = p.Value
		}
		for ts, v := range pts {
			if got[ts] != v {
				missing++
				missingSeqs[seqOf[ts]]++
			}
		}
		if len(got) != len(pts) {
			problems = append(problems, fmt.Sprintf("%s: %d points stored, %d sent", uuid, len(got), len(pts)))
		}
	}
	if missing > 0 {
		var seqs []uint64
		for _, b := range batches {
			seqs = append(seqs, b.Seq)
		}
		problems = append(problems, fmt.Sprintf("%d points sent but not stored, by batch sequence number: %v (batches seen: %v)", missing, missingSeqs, seqs))
	}
	return len(sent), problems, nil
}

// collectorProcess runs the vmmon-collector binary with a configuration of
// the test's own (its keyspace, queues and exchange).
func collectorProcess(t *testing.T, bin, cfg string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "--config-file", cfg)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func collectorConfig(t *testing.T, env bedenv.Env, ks, ex, queuePrefix string) string {
	return writeConfig(t, fmt.Sprintf("[DEFAULT]\ntransport_url = %s\ncontrol_exchange = %s\n[oslo_messaging_rabbit]\nrabbit_retry_interval = 0.2\n"+
		"rabbit_retry_backoff = 0.2\nrabbit_interval_max = 1\n[oslo_messaging_notifications]\ntopics = %s-none\n"+
		"[collector]\nagent_queue = %s-agent\nnotification_queue = %s-nova\nparking_queue = %s-parked\nrollup_interval = 1\n",
		env.Get(t, "VMMON_TRANSPORT_URL"), ex, queuePrefix, queuePrefix, queuePrefix, queuePrefix)+cassandraSection(t, env, ks))
}

// A collector killed with SIGKILL mid-stream and started again loses nothing.
func TestCollectorSIGKILL(t *testing.T) {
	env := bedenv.Load(t)
	url := env.Get(t, "VMMON_TRANSPORT_URL")
	store := openCassandra(t)
	bin := buildCmd(t, "vmmon/cmd/vmmon-collector")
	prefix := uniqueName(t)
	rig := startStream(t, url, 500*time.Millisecond, prefix+"-agent")
	cleanup(t, url, []string{prefix + "-parked.exchange"}, []string{prefix + "-agent", prefix + "-nova", prefix + "-parked"})
	cfg := collectorConfig(t, env, store.Keyspace(), rig.ex, prefix)
	c := collectorProcess(t, bin, cfg)
	until(t, 30*time.Second, "five batches", func() bool { b, _, _ := rig.seen.snapshot(); return len(b) >= 5 })
	if err := c.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = c.Wait()
	time.Sleep(2 * time.Second)
	c = collectorProcess(t, bin, cfg)
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	until(t, 30*time.Second, "five more batches", func() bool { b, _, _ := rig.seen.snapshot(); return len(b) >= 12 })
	rig.finish(t, store, 60*time.Second)
}

// Cassandra stopped for 60 s while agents publish, then started again: the
// collector holds what it cannot write and loses nothing.
func TestCollectorCassandraOutage(t *testing.T) {
	env := bedenv.Load(t)
	url := env.Get(t, "VMMON_TRANSPORT_URL")
	store := openCassandra(t)
	bin := buildCmd(t, "vmmon/cmd/vmmon-collector")
	prefix := uniqueName(t)
	rig := startStream(t, url, time.Second, prefix+"-agent")
	cleanup(t, url, []string{prefix + "-parked.exchange"}, []string{prefix + "-agent", prefix + "-nova", prefix + "-parked"})
	c := collectorProcess(t, bin, collectorConfig(t, env, store.Keyspace(), rig.ex, prefix))
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	until(t, 30*time.Second, "three batches", func() bool { b, _, _ := rig.seen.snapshot(); return len(b) >= 3 })
	script := bedenv.Script("cassandra.sh")
	if out, err := exec.Command(script, "stop").CombinedOutput(); err != nil {
		t.Fatalf("stopping Cassandra: %v %s", err, out)
	}
	t0 := time.Now()
	t.Cleanup(func() { _ = exec.Command(script, "start").Run() })
	time.Sleep(60 * time.Second)
	if out, err := exec.Command(script, "start").CombinedOutput(); err != nil {
		t.Fatalf("starting Cassandra: %v %s", err, out)
	}
	t.Logf("Cassandra was down for %v", time.Since(t0).Round(time.Second))
	b, _, _ := rig.seen.snapshot()
	until(t, 90*time.Second, "batches after the outage", func() bool { x, _, _ := rig.seen.snapshot(); return len(x) >= len(b)+3 })
	// Held batches wait out their retry backoff (up to 30 s) and the
	// driver's reconnection before they drain: minutes on a loaded machine.
	rig.finish(t, store, 300*time.Second)
}
