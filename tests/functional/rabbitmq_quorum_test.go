//go:build functional

package functional

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/tests/bedenv"
)

// privateBroker is a RabbitMQ node of the test's own, on its own port, that
// the test may stop and start without disturbing the bed's.
type privateBroker struct {
	url  string
	node string
	env  []string
}

func startPrivateBroker(t *testing.T) *privateBroker {
	t.Helper()
	port := freePort(t)
	node := fmt.Sprintf("vmmon-test-%d@localhost", port)
	b := &privateBroker{url: fmt.Sprintf("rabbit://guest:guest@127.0.0.1:%d/", port), node: node,
		env: append(os.Environ(), fmt.Sprintf("VMMON_RABBIT_PORT=%d", port), "RABBITMQ_NODENAME="+node,
			"VMMON_RABBIT_PRIVATE=1", fmt.Sprintf("RABBITMQ_DIST_PORT=%d", freePort(t)))}
	b.run(t, "start")
	t.Cleanup(func() {
		b.run(t, "stop")
		// The node's database, so that runs leave nothing behind.
		dirs, _ := filepath.Glob("/var/lib/rabbitmq/mnesia/" + node + "*")
		for _, d := range dirs {
			_ = os.RemoveAll(d)
		}
	})
	return b
}

func (b *privateBroker) run(t *testing.T, what string) {
	t.Helper()
	cmd := exec.Command(bedenv.Script("rabbitmq.sh"), what)
	cmd.Env = b.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rabbitmq.sh %s (%s): %v\n%s", what, b.node, err, out)
	}
}

func (b *privateBroker) ctl(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("rabbitmqctl", append([]string{"-q", "-n", b.node}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rabbitmqctl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// With [oslo_messaging_rabbit] rabbit_quorum_queue, vmmon's queues are
// quorum queues and its exchange durable, and an agent and a collector (the
// binary) keep working
// across a restart of the broker: every batch the agent made is stored,
// point by point, with no gap in its sequence.
func TestQuorumQueuesAcrossBrokerRestart(t *testing.T) {
	env := bedenv.Load(t)
	b := startPrivateBroker(t)
	store := openCassandra(t)
	bin := buildCmd(t, "vmmon/cmd/vmmon-collector")
	prefix := uniqueName(t)
	opts := rabbitOptions(t, b.url)
	opts.Quorum = true
	rig := startStreamWith(t, b.url, opts, time.Second, prefix+"-agent")
	cfg := writeConfig(t, fmt.Sprintf("[DEFAULT]\ntransport_url = %s\ncontrol_exchange = %s\n[oslo_messaging_rabbit]\nrabbit_quorum_queue = true\n"+
		"rabbit_retry_interval = 0.2\nrabbit_retry_backoff = 0.2\nrabbit_interval_max = 1\n[oslo_messaging_notifications]\ntopics = %s-none\n"+
		"[collector]\nagent_queue = %s-agent\nnotification_queue = %s-nova\nparking_queue = %s-parked\nrollup_interval = 1\n",
		b.url, rig.ex, prefix, prefix, prefix, prefix)+cassandraSection(t, env, store.Keyspace()))
	c := collectorProcess(t, bin, cfg)
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	until(t, 30*time.Second, "three batches", func() bool { x, _, _ := rig.seen.snapshot(); return len(x) >= 3 })

	types := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(b.ctl(t, "list_queues", "name", "type")), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			types[f[0]] = f[1]
		}
	}
	for _, q := range []string{prefix + "-agent", prefix + "-nova", prefix + "-parked"} {
		if types[q] != "quorum" {
			t.Errorf("queue %s is %q; want quorum (all: %v)", q, types[q], types)
		}
	}

	// vmmon's exchange is durable, or a restart would drop it and the
	// queues' bindings: what the agent sends before every consumer has
	// bound again would reach some queues and not others.
	durable := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(b.ctl(t, "list_exchanges", "name", "durable")), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			durable[f[0]] = f[1]
		}
	}
	if durable[rig.ex] != "true" {
		t.Errorf("exchange %s durable: %q; want true", rig.ex, durable[rig.ex])
	}

	b.run(t, "stop")
	t0 := time.Now()
	time.Sleep(5 * time.Second) // the agent spools what it cannot publish
	b.run(t, "start")
	t.Logf("the broker was down for %v", time.Since(t0).Round(time.Second))
	before, _, _ := rig.seen.snapshot()
	until(t, 90*time.Second, "batches after the restart", func() bool { x, _, _ := rig.seen.snapshot(); return len(x) >= len(before)+3 })
	if c.ProcessState != nil {
		t.Fatalf("the collector exited: %v", c.ProcessState)
	}
	rig.finish(t, store, 120*time.Second)
}
