//go:build functional

package functional

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon-agent/agent"
	"opendev.org/openstack/vmmon/vmmon-agent/hypervisor"
	"opendev.org/openstack/vmmon/vmmon-agent/spool"
	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/messaging"
)

// agentStream is what a consumer of the agent's exchange saw.
type agentStream struct {
	mu         sync.Mutex
	batches    []agentmsg.Batch
	heartbeats []agentmsg.Heartbeat
	events     []agentmsg.Event
}

func (s *agentStream) handler(t *testing.T) messaging.Handler {
	return func(_ context.Context, d messaging.Delivery) messaging.Outcome {
		m, err := messaging.Decode(d.Body)
		if err != nil {
			t.Errorf("decode: %v", err)
			return messaging.Reject
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		switch {
		case strings.HasPrefix(d.RoutingKey, agentmsg.KindSamples+"."):
			var b agentmsg.Batch
			if err := agentmsg.Unwrap(m.Payload, agentmsg.ObjectBatch, &b); err != nil {
				t.Errorf("batch: %v", err)
			}
			s.batches = append(s.batches, b)
		case strings.HasPrefix(d.RoutingKey, agentmsg.KindHeartbeat+"."):
			var h agentmsg.Heartbeat
			if err := agentmsg.Unwrap(m.Payload, agentmsg.ObjectHeartbeat, &h); err != nil {
				t.Errorf("heartbeat: %v", err)
			}
			s.heartbeats = append(s.heartbeats, h)
		case strings.HasPrefix(d.RoutingKey, agentmsg.KindEvents+"."):
			var e agentmsg.Event
			if err := agentmsg.Unwrap(m.Payload, agentmsg.ObjectEvent, &e); err != nil {
				t.Errorf("event: %v", err)
			}
			s.events = append(s.events, e)
		}
		if m.PublisherID != "vmmon-agent:"+strings.SplitN(d.RoutingKey, ".", 2)[1] {
			t.Errorf("publisher_id %q for routing key %q", m.PublisherID, d.RoutingKey)
		}
		return messaging.Ack
	}
}

func (s *agentStream) snapshot() ([]agentmsg.Batch, []agentmsg.Heartbeat, []agentmsg.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]agentmsg.Batch(nil), s.batches...), append([]agentmsg.Heartbeat(nil), s.heartbeats...),
		append([]agentmsg.Event(nil), s.events...)
}

// until polls cond every 200 ms for up to d.
func until(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type runningAgent struct {
	stream   *agentStream
	stop     func()
	host     string
	exchange string // durable, of the test's own
}

// startAgent runs a real agent on uri publishing to a durable exchange of the
// test's own, read by a durable queue, and stops both at the end of the test.
func startAgent(t *testing.T, uri string, interval time.Duration) *runningAgent {
	t.Helper()
	env := bedenv.Load(t)
	url := env.Get(t, "VMMON_TRANSPORT_URL")
	ex, q := uniqueName(t), uniqueName(t)+"-q"
	cleanup(t, url, []string{ex}, []string{q})
	opts := rabbitOptions(t, url)
	opts.Durable = true
	host := "bed-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	st := &agentStream{}
	startConsumer(t, opts, messaging.Queue{Name: q, Bindings: []messaging.Binding{{Exchange: messaging.Exchange{Name: ex},
		RoutingKeys: []string{"samples." + host, "heartbeat." + host, "events." + host}}}}, st.handler(t))
	sp, err := spool.Open(filepath.Join(t.TempDir(), "spool"), 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	pub := messaging.NewPublisher(opts, messaging.Exchange{Name: ex})
	a := agent.New(agent.Config{Host: host, LibvirtURI: uri, Interval: interval, Timeout: 5 * time.Second},
		hypervisor.Dial, pub, sp, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent Run: %v", err)
		}
		pub.Close()
	}
	t.Cleanup(func() {
		if ctx.Err() == nil {
			stop()
		}
	})
	return &runningAgent{stream: st, stop: stop, host: host, exchange: ex}
}

func findInstance(b agentmsg.Batch, uuid string) (agentmsg.Instance, bool) {
	for _, i := range b.Instances {
		if i.UUID == uuid {
			return i, true
		}
	}
	return agentmsg.Instance{}, false
}

func metricValue(i agentmsg.Instance, name, dev string) (float64, bool) {
	for _, m := range i.Metrics {
		if m.Name == name && m.Device == dev {
			return m.Value, true
		}
	}
	return 0, false
}

func virsh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("virsh", append([]string{"-c", "qemu:///system"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("virsh %v: %v\n%s", args, err, out)
	}
}

// The agent on the bed's QEMU guest publishes batches whose counters move,
// whose rates are plausible and whose Nova metadata is parsed; heartbeats
// describe the host; pausing and resuming the guest gives lifecycle events.
func TestAgentQEMUGuest(t *testing.T) {
	env := bedenv.Load(t)
	uuid := env.Get(t, "VMMON_GUEST_UUID")
	ra := startAgent(t, env.Get(t, "VMMON_LIBVIRT_URI"), time.Second)
	// The guest writes to its disk every two seconds or so: six cycles see it.
	until(t, 30*time.Second, "six batches", func() bool { b, _, _ := ra.stream.snapshot(); return len(b) >= 6 })
	virsh(t, "suspend", env.Get(t, "VMMON_GUEST_NAME"))
	virsh(t, "resume", env.Get(t, "VMMON_GUEST_NAME"))
	until(t, 20*time.Second, "suspended and resumed events", func() bool {
		_, _, evs := ra.stream.snapshot()
		seen := map[string]bool{}
		for _, e := range evs {
			if e.UUID == uuid {
				seen[e.Event] = true
			}
		}
		return seen["suspended"] && seen["resumed"]
	})
	ra.stop()
	batches, hbs, _ := ra.stream.snapshot()
	last := batches[len(batches)-1]
	inst, ok := findInstance(last, uuid)
	if !ok {
		t.Fatalf("guest %s not in the last batch", uuid)
	}
	if inst.Nova == nil || inst.Nova.Name != "bed-guest" || inst.Nova.ProjectID != env.Get(t, "VMMON_PROJECT_DEMO_ID") ||
		inst.Nova.Flavor.Name != "m1.bed" || inst.Nova.Flavor.VCPUs != 1 || inst.Nova.Flavor.MemoryMB != 128 {
		t.Errorf("Nova metadata: %+v", inst.Nova)
	}
	var utilSeen, diskSeen, netSeen bool
	for _, b := range batches[1:] {
		i, ok := findInstance(b, uuid)
		if !ok {
			continue
		}
		if u, ok := metricValue(i, "cpu_util", ""); ok {
			if u <= 0 || u > 100 {
				t.Errorf("seq %d: cpu_util %v outside (0, 100]", b.Seq, u)
			}
			utilSeen = true
		}
		if r, ok := metricValue(i, "disk.device.write.bytes.rate", "vda"); ok && r > 0 {
			diskSeen = true
		}
		if r, ok := metricValue(i, "network.outgoing.packets.rate", "tapbed0"); ok && r > 0 {
			netSeen = true
		}
		for _, m := range i.Metrics {
			if m.Value < 0 {
				t.Errorf("seq %d: negative %s %s", b.Seq, m.Name, m.Device)
			}
		}
	}
	if !utilSeen || !diskSeen || !netSeen {
		t.Errorf("rates seen: cpu_util %v, disk write %v, nic tx %v", utilSeen, diskSeen, netSeen)
	}
	for i, b := range batches {
		if b.Seq != uint64(i+1) || b.Stream != batches[0].Stream {
			t.Errorf("batch %d has seq %d stream %s", i, b.Seq, b.Stream)
		}
	}
	if len(hbs) == 0 {
		t.Fatal("no heartbeat")
	}
	hb := hbs[len(hbs)-1]
	if !hb.LibvirtConnected || hb.LibvirtVersion == "" || hb.HypervisorType != "QEMU" || hb.HostCPUs < 1 || hb.Domains < 1 || len(hb.Samplers) != 8 {
		t.Errorf("heartbeat %+v", hb)
	}
}

// The test driver with 200 generated domains: 180 running, read per domain
// (its bulk call gives only the state), each named by its Nova metadata.
func TestAgentTestDriver200(t *testing.T) {
	env := bedenv.Load(t)
	a := agent.New(agent.Config{Host: "bed", LibvirtURI: env.Get(t, "VMMON_LIBVIRT_TEST_URI_200"), Interval: time.Second,
		Timeout: 5 * time.Second}, hypervisor.Dial, nil, nil, nil)
	ctx := context.Background()
	if _, err := a.Collect(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := a.Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]int{}
	rates := 0
	for _, i := range b.Instances {
		states[i.State]++
		if i.Nova == nil || !strings.HasPrefix(i.Nova.Name, "test-vm-") {
			t.Errorf("%s: Nova metadata %+v", i.UUID, i.Nova)
		}
		if i.State == "running" {
			if _, ok := metricValue(i, "cpu", ""); !ok {
				t.Errorf("%s: no cpu", i.UUID)
			}
			if _, ok := metricValue(i, "disk.device.read.bytes.rate", "vda"); ok {
				rates++
			}
		}
	}
	if len(b.Instances) != 200 || states["running"] != 180 || states["shutoff"] != 20 || rates != 180 {
		t.Errorf("%d instances, states %v, %d with disk rates", len(b.Instances), states, rates)
	}
}

func seqs(bs []agentmsg.Batch) []uint64 {
	var out []uint64
	for _, b := range bs {
		out = append(out, b.Seq)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// RabbitMQ is stopped and started again while the agent runs: batches wait in
// the spool and arrive afterwards with no sequence number missing.
func TestAgentBrokerRestart(t *testing.T) {
	env := bedenv.Load(t)
	ra := startAgent(t, env.Get(t, "VMMON_LIBVIRT_TEST_URI_200"), 500*time.Millisecond)
	until(t, 20*time.Second, "first batches", func() bool { b, _, _ := ra.stream.snapshot(); return len(b) >= 2 })
	if out, err := exec.Command(bedenv.Script("rabbitmq.sh"), "stop").CombinedOutput(); err != nil {
		t.Fatalf("stopping RabbitMQ: %v\n%s", err, out)
	}
	time.Sleep(3 * time.Second)
	if out, err := exec.Command(bedenv.Script("rabbitmq.sh"), "start").CombinedOutput(); err != nil {
		t.Fatalf("starting RabbitMQ: %v\n%s", err, out)
	}
	var maxSeq uint64
	until(t, 60*time.Second, "batches after the restart", func() bool {
		b, _, _ := ra.stream.snapshot()
		s := seqs(b)
		if len(s) > 0 {
			maxSeq = s[len(s)-1]
		}
		return maxSeq >= 25
	})
	ra.stop()
	b, _, _ := ra.stream.snapshot()
	s := seqs(b)
	missing := 0
	seen := map[uint64]bool{}
	for _, x := range s {
		seen[x] = true
	}
	for i := uint64(1); i <= s[len(s)-1]; i++ {
		if !seen[i] {
			missing++
		}
	}
	t.Logf("%d batches received, highest seq %d, %d missing, %d duplicates", len(s), s[len(s)-1], missing, len(s)-len(seen))
	if missing != 0 {
		t.Errorf("%d batches lost across the broker restart", missing)
	}
}

// libvirtd is killed and started again: the agent reconnects and reports the
// guest again.
func TestAgentLibvirtdRestart(t *testing.T) {
	env := bedenv.Load(t)
	uuid := env.Get(t, "VMMON_GUEST_UUID")
	ra := startAgent(t, env.Get(t, "VMMON_LIBVIRT_URI"), time.Second)
	until(t, 20*time.Second, "first batch", func() bool { b, _, _ := ra.stream.snapshot(); return len(b) >= 1 })
	// A connection's lifecycle events end when the daemon goes: libvirt's
	// close callback says so, nothing polls.
	conn, err := hypervisor.Dial(env.Get(t, "VMMON_LIBVIRT_URI"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	eventsEnded := make(chan error, 1)
	go func() { eventsEnded <- conn.Events(context.Background(), make(chan hypervisor.Event, 16)) }()
	pid, err := os.ReadFile("/run/libvirtd.pid")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("kill", strings.TrimSpace(string(pid))).CombinedOutput(); err != nil {
		t.Fatalf("kill libvirtd: %v %s", err, out)
	}
	select {
	case err := <-eventsEnded:
		if !errors.Is(err, hypervisor.ErrConnection) {
			t.Errorf("lifecycle events ended with %v, want a lost connection", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("lifecycle events still waiting 20 s after libvirtd was killed")
	}
	until(t, 20*time.Second, "heartbeat saying libvirt is down", func() bool {
		_, hbs, _ := ra.stream.snapshot()
		return len(hbs) > 0 && !hbs[len(hbs)-1].LibvirtConnected
	})
	before, _, _ := ra.stream.snapshot()
	if out, err := exec.Command(bedenv.Script("libvirt.sh"), "start").CombinedOutput(); err != nil {
		t.Fatalf("starting libvirtd: %v\n%s", err, out)
	}
	until(t, 30*time.Second, "the guest reported again", func() bool {
		b, _, _ := ra.stream.snapshot()
		for _, x := range b[len(before):] {
			if _, ok := findInstance(x, uuid); ok {
				return true
			}
		}
		return false
	})
	_, hbs, _ := ra.stream.snapshot()
	if !hbs[len(hbs)-1].LibvirtConnected {
		t.Errorf("last heartbeat %+v", hbs[len(hbs)-1])
	}
	raw, _ := json.Marshal(hbs[len(hbs)-1])
	t.Logf("heartbeat after the restart: %s", raw)
}
