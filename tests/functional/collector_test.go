//go:build functional

package functional

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon-agent/agent"
	"opendev.org/openstack/vmmon/vmmon-agent/hypervisor"
	"opendev.org/openstack/vmmon/vmmon-agent/spool"
	"opendev.org/openstack/vmmon/vmmon/collector"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/storage"
)

// startCollector runs a collector on the test's own queues until the test ends.
func startCollector(t *testing.T, store storage.Store, opts messaging.Options, q collector.Queues) *collector.Collector {
	t.Helper()
	c := collector.New(store, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, opts, q) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("collector Run: %v", err)
		}
	})
	return c
}

func testQueues(t *testing.T, agentExchange string, topics ...string) collector.Queues {
	n := uniqueName(t)
	return collector.Queues{Agent: n + "-agent", Nova: n + "-nova", Parking: n + "-parked", ParkingMax: 100,
		AgentExchange: agentExchange, NovaExchange: "nova", NotificationTopics: topics, RollupInterval: time.Second}
}

func cleanupQueues(t *testing.T, url string, q collector.Queues) {
	cleanup(t, url, []string{q.Parking + ".exchange"}, []string{q.Agent, q.Nova, q.Parking})
}

// Nova's notifications, published by a real oslo.messaging Notifier (every
// versioned instance.* sample and legacy compute.instance.* ones), leave each
// instance in the state its last notification implies, in the real Cassandra.
func TestCollectorNovaNotifications(t *testing.T) {
	env := bedenv.Load(t)
	url := env.Get(t, "VMMON_TRANSPORT_URL")
	store := openCassandra(t)
	topic := uniqueName(t)
	q := testQueues(t, "vmmon", topic)
	cleanupQueues(t, url, q)
	c := startCollector(t, store, rabbitOptions(t, url), q)
	time.Sleep(2 * time.Second) // the consumers declare and bind their queues

	paths, _ := filepath.Glob(filepath.Join(samplesDir(t), "instance-*.json"))
	sort.Strings(paths)
	// Legacy notifications built from the versioned samples' data.
	legacyDir := t.TempDir()
	var legacy []string
	for i, p := range paths[:10] {
		raw, _ := os.ReadFile(p)
		var s map[string]any
		_ = json.Unmarshal(raw, &s)
		d := s["payload"].(map[string]any)["nova_object.data"].(map[string]any)
		l := map[string]any{
			"event_type":   "compute." + s["event_type"].(string),
			"priority":     "INFO",
			"publisher_id": "compute.legacy-host",
			"payload": map[string]any{"instance_id": "0e3c2f6a-1111-4222-8333-00000000000" + itoa(i), "tenant_id": d["tenant_id"],
				"user_id": d["user_id"], "display_name": "legacy", "host": "legacy-host", "state": d["state"],
				"instance_type": "m1.legacy", "vcpus": 3, "memory_mb": 256, "fixed_ips": []any{map[string]any{"address": "10.1.0.5"}}},
		}
		b, _ := json.Marshal(l)
		f := filepath.Join(legacyDir, filepath.Base(p))
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		legacy = append(legacy, f)
	}
	all := append(append([]string(nil), paths...), legacy...)
	args := append([]string{filepath.Join(bedenv.RepoRoot(), "tests", "interop", "oslo_notify.py"), url, "nova", topic}, all...)
	if out, err := exec.Command(python, args...).CombinedOutput(); err != nil {
		t.Fatalf("oslo notifier: %v\n%s", err, out)
	}
	until(t, 60*time.Second, "every notification stored", func() bool { return c.Stats().NovaEvents >= len(all) })

	// The last notification of each instance decides its state.
	want := map[string]map[string]any{}
	count := map[string]int{}
	for _, p := range paths {
		raw, _ := os.ReadFile(p)
		var s map[string]any
		_ = json.Unmarshal(raw, &s)
		d := s["payload"].(map[string]any)["nova_object.data"].(map[string]any)
		want[d["uuid"].(string)] = d
		count[d["uuid"].(string)]++
	}
	ctx := context.Background()
	for uuid, d := range want {
		inst, err := store.GetInstance(ctx, uuid)
		if err != nil {
			t.Errorf("%s: %v", uuid, err)
			continue
		}
		host, _ := d["host"].(string)
		if inst.State != d["state"] || inst.Host != host || inst.ProjectID != d["tenant_id"] {
			t.Errorf("%s: state %q host %q project %q; the last notification says %v %v %v", uuid, inst.State, inst.Host, inst.ProjectID,
				d["state"], d["host"], d["tenant_id"])
		}
		evs, _ := store.Events(ctx, storage.EventQuery{InstanceID: uuid})
		if len(evs) != count[uuid] {
			t.Errorf("%s: %d events; %d notifications", uuid, len(evs), count[uuid])
		}
	}
	for i := range legacy {
		inst, err := store.GetInstance(ctx, "0e3c2f6a-1111-4222-8333-00000000000"+itoa(i))
		if err != nil || inst.Host != "legacy-host" || inst.FlavorVCPUs != 3 || len(inst.IPs) != 1 {
			t.Errorf("legacy %d: %+v, %v", i, inst, err)
		}
	}
	if st := c.Stats(); st.Parked != 0 || st.Ignored != 0 {
		t.Errorf("stats %+v", st)
	}
}

// The agent on the QEMU guest and the 200-domain test driver feeds two
// collectors sharing one stream into Cassandra: the stored points are what the
// agent sent, none lost, none twice.
func TestCollectorAgentsTwoCollectors(t *testing.T) {
	env := bedenv.Load(t)
	url := env.Get(t, "VMMON_TRANSPORT_URL")
	store := openCassandra(t)
	ex := uniqueName(t) + "-vmmon"
	q := testQueues(t, ex)
	cleanupQueues(t, url, q)
	cleanup(t, url, []string{ex}, nil)
	opts := rabbitOptions(t, url)
	c1 := startCollector(t, store, opts, q)
	c2 := startCollector(t, store, opts, q)
	time.Sleep(2 * time.Second)

	// A reader of its own sees every batch the agents publish.
	seen := &agentStream{}
	tap := uniqueName(t) + "-tap"
	cleanup(t, url, nil, []string{tap})
	startConsumer(t, opts, messaging.Queue{Name: tap, Bindings: []messaging.Binding{{Exchange: messaging.Exchange{Name: ex},
		RoutingKeys: []string{"samples.*", "heartbeat.*", "events.*"}}}}, seen.handler(t))

	var stops []func()
	for _, a := range []struct{ host, uri string }{{"bed-qemu", env.Get(t, "VMMON_LIBVIRT_URI")}, {"bed-test200", env.Get(t, "VMMON_LIBVIRT_TEST_URI_200")}} {
		sp, _ := spool.Open(filepath.Join(t.TempDir(), a.host), 64<<20)
		pub := messaging.NewPublisher(opts, messaging.Exchange{Name: ex})
		ag := agent.New(agent.Config{Host: a.host, LibvirtURI: a.uri, Interval: time.Second, Timeout: 5 * time.Second}, hypervisor.Dial, pub, sp, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = ag.Run(ctx); close(done) }()
		stops = append(stops, func() { cancel(); <-done; pub.Close() })
	}
	until(t, 60*time.Second, "ten batches from each host", func() bool {
		b, _, _ := seen.snapshot()
		per := map[string]int{}
		for _, x := range b {
			per[x.Host]++
		}
		return per["bed-qemu"] >= 10 && per["bed-test200"] >= 10
	})
	for _, s := range stops {
		s()
	}
	batches, _, _ := seen.snapshot()
	until(t, 30*time.Second, "collectors caught up", func() bool {
		return c1.Stats().Batches+c2.Stats().Batches >= len(batches)
	})
	handled := func(s collector.Stats) int { return s.Batches + s.Heartbeats + s.AgentEvents }
	if handled(c1.Stats()) == 0 || handled(c2.Stats()) == 0 {
		t.Errorf("work not shared: %+v and %+v", c1.Stats(), c2.Stats())
	}
	if n := c1.Stats().Batches + c2.Stats().Batches; n != len(batches) {
		t.Errorf("collectors handled %d batches; %d were published", n, len(batches))
	}
	// Every cpu point the agents sent is stored, once, with its value.
	if n := verifyStored(t, store, batches); n != 181 {
		t.Errorf("cpu sent for %d instances; want 181 running", n)
	}
	ctx := context.Background()
	guest, err := store.GetInstance(ctx, env.Get(t, "VMMON_GUEST_UUID"))
	if err != nil || guest.Host != "bed-qemu" || guest.ProjectID != env.Get(t, "VMMON_PROJECT_DEMO_ID") || guest.Name != "bed-guest" {
		t.Errorf("guest instance %+v, %v", guest, err)
	}
	for _, h := range []string{"bed-qemu", "bed-test200"} {
		hs, err := store.GetHost(ctx, h)
		if err != nil || hs.SeqGaps != 0 || hs.LastHeartbeat.IsZero() {
			t.Errorf("host %s: %+v, %v", h, hs, err)
		}
	}
	t.Logf("collector 1: %+v; collector 2: %+v", c1.Stats(), c2.Stats())
}
