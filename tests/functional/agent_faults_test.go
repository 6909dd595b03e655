//go:build functional

package functional

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon-agent/agent"
	"opendev.org/openstack/vmmon/vmmon-agent/hypervisor"
	"opendev.org/openstack/vmmon/vmmon-agent/spool"
	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/transporturl"
)

// seqReport says what of batches 1..max arrived: the numbers missing and
// how many arrived more than once.
func seqReport(bs []agentmsg.Batch) (max uint64, missing []uint64, dups int) {
	seen := map[uint64]int{}
	for _, b := range bs {
		seen[b.Seq]++
		if b.Seq > max {
			max = b.Seq
		}
	}
	for s := uint64(1); s <= max; s++ {
		switch n := seen[s]; {
		case n == 0:
			missing = append(missing, s)
		case n > 1:
			dups += n - 1
		}
	}
	return max, missing, dups
}

// amqpChannel is a plain AMQP channel to the bed's broker, closed at the
// end of the test.
func amqpChannel(t *testing.T, url string) *amqp.Channel {
	t.Helper()
	u, _ := transporturl.Parse(url)
	conn, err := amqp.Dial(u.AMQPURI(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func deleteQueue(t *testing.T, url, q string) {
	t.Helper()
	if _, err := amqpChannel(t, url).QueueDelete(q, false, false, false); err != nil {
		t.Fatal(err)
	}
}

// agentRig is an in-process agent on libvirt's test driver publishing to a
// fresh exchange, read by a queue of the test's own.
type agentRig struct {
	stream       *agentStream
	queue        messaging.Queue
	opts         messaging.Options
	stopConsumer func() // the agent goes on
	stop         func() // the agent and the consumer
}

func startAgentRig(t *testing.T, url, host string, sp *spool.Spool) *agentRig {
	t.Helper()
	ex, q := uniqueName(t), uniqueName(t)+"-q"
	cleanup(t, url, []string{ex}, []string{q})
	r := &agentRig{stream: &agentStream{}, opts: rabbitOptions(t, url), queue: messaging.Queue{Name: q, Bindings: []messaging.Binding{
		{Exchange: messaging.Exchange{Name: ex}, RoutingKeys: []string{"samples." + host, "heartbeat." + host}}}}}
	r.stopConsumer = startConsumer(t, r.opts, r.queue, r.stream.handler(t))
	pub := messaging.NewPublisher(r.opts, messaging.Exchange{Name: ex})
	a := agent.New(agent.Config{Host: host, LibvirtURI: "test:///default", Interval: time.Second, Timeout: 5 * time.Second},
		hypervisor.Dial, pub, sp, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	r.stop = func() { once.Do(func() { cancel(); <-done; pub.Close(); r.stopConsumer() }) }
	t.Cleanup(r.stop)
	return r
}

// The collector's queue deleted mid-run: RabbitMQ returns the agent's
// batches (published mandatory) instead of confirming and dropping them; they
// stay spooled, the heartbeat counts them, and once the queue is back every
// sequence number arrives, none twice.
func TestAgentUnroutable(t *testing.T) {
	env := bedenv.Load(t)
	url := env.Get(t, "VMMON_TRANSPORT_URL")
	sp, err := spool.Open(filepath.Join(t.TempDir(), "spool"), 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	rig := startAgentRig(t, url, "unroutable-host", sp)
	st, opts, queue := rig.stream, rig.opts, rig.queue
	until(t, 20*time.Second, "three batches", func() bool { bs, _, _ := st.snapshot(); return len(bs) >= 3 })

	rig.stopConsumer()
	deleteQueue(t, url, queue.Name)
	until(t, 20*time.Second, "batches spooled while unroutable", func() bool { n, _, _ := sp.Stats(); return n >= 3 })
	spooled, _, _ := sp.Stats()
	back := time.Now()
	startConsumer(t, opts, queue, st.handler(t))
	until(t, 30*time.Second, "the spool drained", func() bool { n, _, _ := sp.Stats(); return n == 0 })
	recovery := time.Since(back)
	time.Sleep(2 * time.Second)
	bs, hbs, _ := st.snapshot()
	max, missing, dups := seqReport(bs)
	t.Logf("unroutable: %d batches spooled while the queue was gone; after it came back, batches 1..%d: %d missing, %d duplicated; spool drained in %v",
		spooled, max, len(missing), dups, recovery.Round(time.Millisecond))
	if len(missing) != 0 || dups != 0 {
		t.Errorf("missing %v, %d duplicated", missing, dups)
	}
	var unroutable uint64
	for _, hb := range hbs {
		unroutable = max64(unroutable, hb.Unroutable)
	}
	if unroutable == 0 {
		t.Errorf("no heartbeat counted unroutable messages: %+v", hbs[len(hbs)-1])
	}
}

func max64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// A spool on a full file system, the broker up: batches go straight to the
// broker (nothing is lost, nothing written to the spool) and the heartbeat
// says how little room the spool has left for an outage.
func TestAgentSpoolFull(t *testing.T) {
	env := bedenv.Load(t)
	url := env.Get(t, "VMMON_TRANSPORT_URL")
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mounting a small tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	// Fill it up.
	filler := make([]byte, 4096)
	f, _ := os.Create(filepath.Join(dir, "filler"))
	for {
		if _, err := f.Write(filler); err != nil {
			break
		}
	}
	f.Close()
	sp, err := spool.Open(filepath.Join(dir, "spool"), 64<<20)
	if err != nil {
		t.Fatalf("opening a spool on the full tmpfs: %v", err)
	}
	rig := startAgentRig(t, url, "spoolfull-host", sp)
	st := rig.stream
	until(t, 20*time.Second, "five batches and a heartbeat after them", func() bool {
		bs, hbs, _ := st.snapshot()
		return len(bs) >= 5 && len(hbs) >= 5
	})
	bs, hbs, _ := st.snapshot()
	max, missing, dups := seqReport(bs)
	last := hbs[len(hbs)-1]
	free := int64(-1) // not reported
	if last.SpoolFreeBytes != nil {
		free = *last.SpoolFreeBytes
	}
	t.Logf("spool full: batches 1..%d arrived with %d missing, %d duplicated; heartbeat: %d bytes free for the spool, %d written to it, %d spool errors",
		max, len(missing), dups, free, last.SpoolWritten, last.SpoolErrors)
	if len(missing) != 0 || dups != 0 {
		t.Errorf("missing %v, %d duplicated", missing, dups)
	}
	// The broker confirms every message, so the full disk costs nothing yet;
	// the heartbeat says there is no room for an outage.
	if last.SpoolWritten != 0 || last.SpoolErrors != 0 || free < 0 || free >= 4096 {
		t.Errorf("heartbeat: %d written, %d spool errors, %d bytes free; want 0, 0, and under 4096: %+v",
			last.SpoolWritten, last.SpoolErrors, free, last)
	}
	// Then the queue unbound (the consumer still reading it, so that nothing
	// confirmed is dropped): the broker returns each batch, the full spool
	// refuses it, and it is lost; once bound again, the batches after the
	// gap arrive and the heartbeat says why the gap is there.
	ch := amqpChannel(t, url)
	bind := rig.queue.Bindings[0]
	for _, k := range bind.RoutingKeys {
		if err := ch.QueueUnbind(rig.queue.Name, k, bind.Exchange.Name, nil); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(3 * time.Second) // three intervals with nowhere to go
	for _, k := range bind.RoutingKeys {
		if err := ch.QueueBind(rig.queue.Name, k, bind.Exchange.Name, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	// A heartbeat counts the refusals up to its cycle's batch: wait for one
	// whose batch arrived, so that every batch up to it arrived or is lost.
	until(t, 20*time.Second, "a heartbeat counting the spool's refusals, its batch arrived", func() bool {
		bs, hbs, _ := st.snapshot()
		max, _, _ := seqReport(bs)
		return len(hbs) > 0 && hbs[len(hbs)-1].SpoolErrors > 0 && max >= hbs[len(hbs)-1].LastSeq
	})
	rig.stop()
	bs, hbs, _ = st.snapshot()
	_, missing, dups = seqReport(bs)
	last = hbs[len(hbs)-1]
	var lost []uint64
	for _, seq := range missing {
		if seq <= last.LastSeq {
			lost = append(lost, seq)
		}
	}
	t.Logf("spool full, queue unbound: batches %v lost, %d duplicated; heartbeat: %d spool errors (%q), %d unroutable",
		lost, dups, last.SpoolErrors, last.SpoolLastError, last.Unroutable)
	if len(lost) == 0 || uint64(len(lost)) != last.SpoolErrors || dups != 0 {
		t.Errorf("lost %v, %d duplicated, %d spool errors; want each lost batch counted, none twice", lost, dups, last.SpoolErrors)
	}
	if !strings.Contains(last.SpoolLastError, "no space left") || last.Unroutable == 0 || last.SpoolWritten != 0 {
		t.Errorf("the heartbeat does not say the spool refused what the broker returned: %+v", last)
	}
}

// vmmon-agent killed (SIGKILL) while the broker is away, a spooled message
// damaged meanwhile: on restart the damaged one is moved aside and every
// other spooled batch is sent, in order.
func TestAgentCorruptSpoolAfterKill(t *testing.T) {
	env := bedenv.Load(t)
	url := env.Get(t, "VMMON_TRANSPORT_URL")
	bin := buildCmd(t, "vmmon-agent/cmd/vmmon-agent")
	dir := t.TempDir()
	spoolDir := filepath.Join(dir, "spool")
	ex := uniqueName(t)
	host := "killed-host"
	metricsPort := freePort(t)
	config := func(transport string) string {
		p := filepath.Join(dir, fmt.Sprintf("agent-%d.conf", time.Now().UnixNano()))
		body := fmt.Sprintf("[DEFAULT]\ntransport_url = %s\ncontrol_exchange = %s\n[agent]\nlibvirt_uri = test:///default\nhost = %s\n"+
			"interval = 1\nspool_dir = %s\nmetrics_bind = 127.0.0.1:%d\n", transport, ex, host, spoolDir, metricsPort)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The broker unreachable: batches pile up in the spool.
	cmd := exec.Command(bin, "--config-file", config("rabbit://guest:guest@127.0.0.1:1/"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	until(t, 30*time.Second, "five spooled batches", func() bool {
		files, _ := filepath.Glob(filepath.Join(spoolDir, "*.msg"))
		return len(files) >= 5
	})
	if n := scrape(t, fmt.Sprintf("http://127.0.0.1:%d", metricsPort), "vmmon_agent_spool_written_total"); n < 5 {
		t.Errorf("vmmon_agent_spool_written_total = %v with the broker unreachable; want at least the 5 batches spooled", n)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	files, _ := filepath.Glob(filepath.Join(spoolDir, "*.msg"))
	sort.Strings(files)
	// Damage the second spooled message (cut in the middle of its JSON).
	raw, _ := os.ReadFile(files[1])
	if err := os.WriteFile(files[1], raw[:len(raw)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	q := ex + "-q"
	cleanup(t, url, []string{ex}, []string{q})
	st := &agentStream{}
	startConsumer(t, rabbitOptions(t, url), messaging.Queue{Name: q, Bindings: []messaging.Binding{{Exchange: messaging.Exchange{Name: ex},
		RoutingKeys: []string{"samples." + host, "heartbeat." + host}}}}, st.handler(t))
	restart := exec.Command(bin, "--config-file", config(url))
	log := &strings.Builder{}
	restart.Stderr = log
	if err := restart.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = restart.Process.Signal(syscall.SIGTERM); _ = restart.Wait() })
	t0 := time.Now()
	until(t, 30*time.Second, "the spool drained after the restart", func() bool {
		left, _ := filepath.Glob(filepath.Join(spoolDir, "*.msg"))
		bs, hbs, _ := st.snapshot()
		return len(left) == 0 && len(bs) >= len(files) && len(hbs) > 0
	})
	bs, hbs, _ := st.snapshot()
	aside, _ := filepath.Glob(filepath.Join(spoolDir, spool.AsideDir, "*.msg"))
	// Each run of the agent is a stream of its own, numbered from 1: the
	// killed run's spooled batches must all arrive but the damaged one.
	streams := map[string][]agentmsg.Batch{}
	for _, b := range bs {
		streams[b.Stream] = append(streams[b.Stream], b)
	}
	for name, sb := range streams {
		max, missing, dups := seqReport(sb)
		t.Logf("corrupt spool after a kill: stream %s: batches 1..%d, missing %v, %d duplicated", name, max, missing, dups)
		if dups != 0 || len(missing) > 1 || (len(missing) == 1 && missing[0] != 2) {
			t.Errorf("stream %s: missing %v, %d duplicated; want only batch 2 (the damaged one) missing", name, missing, dups)
		}
	}
	t.Logf("corrupt spool after a kill: %d spooled, 1 damaged; after the restart %d batches arrived in %v, %d set aside",
		len(files), len(bs), time.Since(t0).Round(time.Millisecond), len(aside))
	if len(streams) != 2 {
		t.Errorf("%d streams; want the killed run's and the new one's", len(streams))
	}
	if len(aside) != 1 || filepath.Base(aside[0]) != filepath.Base(files[1]) {
		t.Errorf("set aside %v; want %s", aside, filepath.Base(files[1]))
	}
	if last := hbs[len(hbs)-1]; last.SpoolMovedAside != 1 {
		t.Errorf("heartbeat: %d moved aside; want 1\n%s", last.SpoolMovedAside, log.String())
	}
	// The same figure on the agent's own metrics address.
	if n := scrape(t, fmt.Sprintf("http://127.0.0.1:%d", metricsPort), "vmmon_agent_spool_moved_aside_total"); n != 1 {
		t.Errorf("vmmon_agent_spool_moved_aside_total = %v; want 1", n)
	}
	// With the broker confirming and the spool empty, batches go straight
	// to it: only the new run's first batch, sent behind the killed run's,
	// was written to the spool.
	seen := len(bs)
	until(t, 30*time.Second, "three more batches", func() bool {
		bs, _, _ := st.snapshot()
		return len(bs) >= seen+3
	})
	if n := scrape(t, fmt.Sprintf("http://127.0.0.1:%d", metricsPort), "vmmon_agent_spool_written_total"); n != 1 {
		t.Errorf("vmmon_agent_spool_written_total = %v after the spool drained; want 1 (the first batch, behind the spooled ones)", n)
	}
	if left, _ := os.ReadDir(spoolDir); len(left) != 1 || left[0].Name() != spool.AsideDir {
		t.Errorf("the spool's folder holds %v; want only %s", left, spool.AsideDir)
	}
}
