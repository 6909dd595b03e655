//go:build functional

package functional

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"
	amqp "github.com/rabbitmq/amqp091-go"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/storage/storagetest"
	"opendev.org/openstack/vmmon/vmmon/transporturl"
)

// BenchmarkCassandraDiskPerPoint measures what vmmon's data takes on disk in
// the bed's Cassandra (its default compression, one replica) and what writing
// and rolling it up costs: an hour of agent cycles every 10 s of 100
// instances with 20 metrics (720,000 points of random values, the worst case
// for compression), the instances on 2 hosts of 50 in 10 projects of 10, as
// a running collector handles them: each minute's six cycles written, then
// every closed minute rolled up (with its hour, its packed rows and its
// host's and project's groups), then the next minute; at the end the
// keyspace is flushed to SSTables.
//
// Metrics, per raw point and per minute rollup (one series' minute; its
// groups' share included): bytes on disk of raw points, of rollups (tables
// rollup_1m, rollup_1h and their _packed: the instance's and its groups'
// series) and of everything the keyspace holds per point; writes (local
// mutations, one per partition a statement or batch updates, on one
// replica, from Cassandra's own table metrics, system_views.local_write_latency);
// Cassandra's CPU and the driver's (this process: what a collector spends
// in the storage driver) per point and per minute rollup; minute rollups
// per second.
//
//	make bed && go test -tags functional -run '^$' -bench CassandraDiskPerPoint -benchtime 1x ./tests/functional/
func BenchmarkCassandraDiskPerPoint(b *testing.B) {
	bedenv.Load(b)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		s, session := openCassandraSession(b)
		start := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
		const minutes, instances, metrics = 60, 100, 20
		rnd := rand.New(rand.NewPCG(1, 2))
		var (
			writeCPU, writeCass, rollCPU, rollCass, rollTime time.Duration
			buckets                                          int
		)
		pointWrites, rollupWrites := map[string]int64{}, map[string]int64{}
		for mi := 0; mi < minutes; mi++ {
			w0, self0, cass0 := tableWrites(b, session, s.Keyspace()), selfCPU(), cassandraCPU(b)
			for c := 0; c < 6; c++ {
				at := start.Add(time.Duration(mi*6+c) * 10 * time.Second)
				batch := make([]storage.Sample, 0, instances*metrics)
				for in := 0; in < instances; in++ {
					for m := 0; m < metrics; m++ {
						batch = append(batch, storage.Sample{InstanceID: fmt.Sprintf("disk-%04d", in), Metric: fmt.Sprintf("metric.%02d", m),
							Time: at, Value: rnd.Float64() * 1e6, Unit: "B", Kind: "gauge",
							ProjectID: fmt.Sprintf("project-%02d", in%10), Host: fmt.Sprintf("compute-%d", in/50)})
					}
				}
				if err := s.WriteSamples(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			w1, self1, cass1 := tableWrites(b, session, s.Keyspace()), selfCPU(), cassandraCPU(b)
			t0 := time.Now()
			buckets += storagetest.ProcessAll(b, s)
			rollTime += time.Since(t0)
			w2, self2, cass2 := tableWrites(b, session, s.Keyspace()), selfCPU(), cassandraCPU(b)
			writeCPU, writeCass = writeCPU+self1-self0, writeCass+cass1-cass0
			rollCPU, rollCass = rollCPU+self2-self1, rollCass+cass2-cass1
			addWrites(pointWrites, w0, w1)
			addWrites(rollupWrites, w1, w2)
		}
		flush(b, s.Keyspace())
		nodetool(b, "compact", s.Keyspace()) // overwritten packed rows merged, as compaction leaves them
		sizes := keyspaceSizes(b, s.Keyspace())
		points := float64(minutes * 6 * instances * metrics)
		rollups := float64(minutes * instances * metrics) // series' minutes
		series := float64(instances * metrics)            // and series' hours: the run is one hour
		var total, rollupBytes, groupBytes int64
		var parts []string
		for table, n := range sizes {
			total += n
			parts = append(parts, fmt.Sprintf("%s %d KiB", table, n/1024))
			switch {
			case strings.HasPrefix(table, "rollup_1"):
				rollupBytes += n
			case strings.HasPrefix(table, "group_"):
				groupBytes += n
			}
		}
		sort.Strings(parts)
		b.ReportMetric(float64(sizes["measures_raw"])/points, "raw-B/point")
		b.ReportMetric(float64(rollupBytes)/rollups, "rollup-B/minute")
		b.ReportMetric(float64(groupBytes)/rollups, "group-B/minute")
		// Each table apart, for retentions: per series' minute, per series' hour.
		b.ReportMetric(float64(sizes["rollup_1m"])/rollups, "1m-B/minute")
		b.ReportMetric(float64(sizes["rollup_1m_packed"])/rollups, "1m-packed-B/minute")
		b.ReportMetric(float64(sizes["group_members"])/rollups, "members-B/minute")
		b.ReportMetric(float64(sizes["rollup_1h"])/series, "1h-B/hour")
		b.ReportMetric(float64(sizes["rollup_1h_packed"])/series, "1h-packed-B/hour")
		b.ReportMetric(float64(total)/points, "all-B/point")
		b.ReportMetric(float64(sumWrites(pointWrites))/points, "writes/point")
		b.ReportMetric(float64(sumWrites(rollupWrites))/rollups, "writes/minute")
		b.ReportMetric(float64(writeCass.Microseconds())/points, "cassandra-cpu-µs/point")
		b.ReportMetric(float64(writeCPU.Microseconds())/points, "driver-cpu-µs/point")
		b.ReportMetric(float64(rollCass.Microseconds())/rollups, "cassandra-cpu-µs/minute")
		b.ReportMetric(float64(rollCPU.Microseconds())/rollups, "driver-cpu-µs/minute")
		b.ReportMetric(rollups/rollTime.Seconds(), "minutes/s")
		b.Logf("%d points, %d series' minutes, %d buckets rolled up (with the groups'); on disk: %s", int(points), int(rollups), buckets,
			strings.Join(parts, ", "))
		b.Logf("writes of the points: %s", writesByTable(pointWrites))
		b.Logf("writes of the rollups: %s", writesByTable(rollupWrites))
	}
}

// flush writes the keyspace's memtables to SSTables (nodetool flush, from the
// bed's Cassandra jars, over JMX).
func flush(b *testing.B, keyspace string) {
	b.Helper()
	nodetool(b, "flush", keyspace)
}

// nodetool runs a nodetool command against the bed's Cassandra.
func nodetool(b *testing.B, args ...string) {
	b.Helper()
	lib := filepath.Join(bedenv.Dir(), "cassandra", "lib", "*")
	cmd := exec.Command("java", "-Xmx128m", "-cp", lib, "-Dlogback.configurationFile="+filepath.Join(bedenv.Script("cassandra"), "logback.xml"),
		"-Dcassandra.logdir="+filepath.Join(bedenv.Dir(), "log"),
		"--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED", "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
		"--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "--add-exports", "java.base/jdk.internal.ref=ALL-UNNAMED",
		"--add-opens", "java.base/java.nio=ALL-UNNAMED", "--add-opens", "java.base/java.lang=ALL-UNNAMED",
		"org.apache.cassandra.tools.NodeTool", "-h", "127.0.0.1", "-p", "7199")
	cmd.Args = append(cmd.Args, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("nodetool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// keyspaceSizes returns the bytes of SSTable files of each table of the
// keyspace in the bed's Cassandra data folder.
func keyspaceSizes(b *testing.B, keyspace string) map[string]int64 {
	b.Helper()
	dir := filepath.Join(bedenv.Dir(), "cassandra", "data", keyspace)
	tables, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]int64{}
	for _, t := range tables {
		name, _, _ := strings.Cut(t.Name(), "-")
		_ = filepath.WalkDir(filepath.Join(dir, t.Name()), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if info, err := d.Info(); err == nil {
					out[name] += info.Size()
				}
			}
			return nil
		})
	}
	return out
}

// tableWrites returns each table of the keyspace and its count of local
// writes so far, from Cassandra's virtual table of table metrics.
func tableWrites(b *testing.B, session *gocql.Session, keyspace string) map[string]int64 {
	b.Helper()
	iter := session.Query(`SELECT table_name, count FROM system_views.local_write_latency WHERE keyspace_name = ?`, keyspace).Iter()
	out := map[string]int64{}
	var (
		table string
		n     int64
	)
	for iter.Scan(&table, &n) {
		out[table] = n
	}
	if err := iter.Close(); err != nil {
		b.Fatalf("reading Cassandra's write counts: %v", err)
	}
	return out
}

// addWrites adds to sum, table by table, the writes made between two tableWrites.
func addWrites(sum, before, after map[string]int64) {
	for table, c := range after {
		sum[table] += c - before[table]
	}
}

// sumWrites is the writes of every table.
func sumWrites(writes map[string]int64) int64 {
	var n int64
	for _, c := range writes {
		n += c
	}
	return n
}

// writesByTable lists writes by table.
func writesByTable(writes map[string]int64) string {
	var parts []string
	for table, n := range writes {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", table, n))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// novaBatch is one agent cycle of n Nova instances as vmmon-agent encodes it,
// each with 2 vCPUs, one disk and one NIC: the 42 metrics of
// vmmon-agent/sampler for such a domain (counters, their rates and gauges).
func novaBatch(host string, seq uint64, n int, at time.Time) agentmsg.Batch {
	names := []struct{ name, device, unit, kind string }{
		{"vcpus", "", "vcpu", agentmsg.Gauge}, {"cpu", "", "ns", agentmsg.Cumulative}, {"cpu_util", "", "%", agentmsg.Rate},
		{"vcpu.time", "vcpu0", "ns", agentmsg.Cumulative}, {"vcpu.time", "vcpu1", "ns", agentmsg.Cumulative},
		{"memory", "", "MB", agentmsg.Gauge}, {"memory.available", "", "MB", agentmsg.Gauge}, {"memory.unused", "", "MB", agentmsg.Gauge},
		{"memory.usable", "", "MB", agentmsg.Gauge}, {"memory.resident", "", "MB", agentmsg.Gauge}, {"memory.usage", "", "MB", agentmsg.Gauge},
		{"memory.swap.in", "", "MB", agentmsg.Cumulative}, {"memory.swap.in.rate", "", "MB/s", agentmsg.Rate},
		{"memory.swap.out", "", "MB", agentmsg.Cumulative}, {"memory.swap.out.rate", "", "MB/s", agentmsg.Rate},
	}
	for _, c := range []struct{ name, unit, rate string }{
		{"disk.device.read.bytes", "B", "B/s"}, {"disk.device.read.requests", "request", "request/s"}, {"disk.device.read.latency", "ns", ""},
		{"disk.device.write.bytes", "B", "B/s"}, {"disk.device.write.requests", "request", "request/s"}, {"disk.device.write.latency", "ns", ""},
		{"disk.device.flush.requests", "request", "request/s"}, {"disk.device.errors", "error", ""},
	} {
		names = append(names, struct{ name, device, unit, kind string }{c.name, "vda", c.unit, agentmsg.Cumulative})
		if c.rate != "" {
			names = append(names, struct{ name, device, unit, kind string }{c.name + ".rate", "vda", c.rate, agentmsg.Rate})
		}
	}
	names = append(names, struct{ name, device, unit, kind string }{"disk.device.capacity", "vda", "B", agentmsg.Gauge},
		struct{ name, device, unit, kind string }{"disk.device.allocation", "vda", "B", agentmsg.Gauge})
	for _, c := range []struct{ name, unit, rate string }{
		{"network.incoming.bytes", "B", "B/s"}, {"network.incoming.packets", "packet", "packet/s"},
		{"network.incoming.packets.error", "packet", ""}, {"network.incoming.packets.drop", "packet", ""},
		{"network.outgoing.bytes", "B", "B/s"}, {"network.outgoing.packets", "packet", "packet/s"},
		{"network.outgoing.packets.error", "packet", ""}, {"network.outgoing.packets.drop", "packet", ""},
	} {
		names = append(names, struct{ name, device, unit, kind string }{c.name, "tap5e1f0c2a-9b", c.unit, agentmsg.Cumulative})
		if c.rate != "" {
			names = append(names, struct{ name, device, unit, kind string }{c.name + ".rate", "tap5e1f0c2a-9b", c.rate, agentmsg.Rate})
		}
	}
	rnd := rand.New(rand.NewPCG(seq, uint64(n)))
	batch := agentmsg.Batch{Host: host, Stream: messaging.NewUUID(), Seq: seq, AgentVersion: "1.0.0", Time: at, Interval: 10, DurationMS: 12.5}
	for i := 0; i < n; i++ {
		in := agentmsg.Instance{UUID: fmt.Sprintf("9c3e0000-0000-4000-8000-%012d", i), Name: fmt.Sprintf("instance-%08x", i),
			State: "running", Reason: 1, Time: at, MonoNS: int64(seq) * 10e9,
			Nova: &agentmsg.Nova{Name: fmt.Sprintf("server-%d", i), ProjectID: "1f9d5c7fe1c244aba2253b3a0028a35f", ProjectName: "demo",
				UserID: "13b6e3c3fe3b4f759b3c7c1f528463f0", UserName: "demo", Namespace: "http://openstack.org/xmlns/libvirt/nova/1.1",
				Flavor:   agentmsg.Flavor{Name: "m1.small", VCPUs: 2, MemoryMB: 2048, DiskGB: 20},
				RootType: "image", RootID: "da45ae3d-f78b-4b0c-aeb1-e6fcb37cb1ac", Created: "2025-01-01 00:00:00",
				Ports: []agentmsg.Port{{ID: "5e1f0c2a-9b7d-4c1e-8f3a-2b6d9e0c4a71", IPs: []string{"10.0.0.12"}}}}}
		for _, m := range names {
			in.Metrics = append(in.Metrics, agentmsg.Metric{Name: m.name, Device: m.device, Value: math.Round(rnd.Float64()*1e9) / 1e3, Unit: m.unit, Kind: m.kind})
		}
		batch.Instances = append(batch.Instances, in)
	}
	return batch
}

// encodeAgentMessage wraps a payload in the oslo envelope as vmmon-agent does.
func encodeAgentMessage(b *testing.B, host, eventType, object string, data any, at time.Time) []byte {
	payload, err := agentmsg.Wrap(object, data)
	if err != nil {
		b.Fatal(err)
	}
	body, err := messaging.Encode(&messaging.Message{MessageID: messaging.NewUUID(), PublisherID: agentmsg.PublisherID(host),
		EventType: eventType, Priority: messaging.PriorityInfo, Timestamp: at, Payload: payload})
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// rabbitmqPID returns the process id of the bed's RabbitMQ node (its Erlang VM).
func rabbitmqPID(b *testing.B) int {
	b.Helper()
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range dirs {
		raw, err := os.ReadFile(f)
		if err == nil && strings.Contains(string(raw), "beam.smp") && strings.Contains(string(raw), "rabbit") {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			return pid
		}
	}
	b.Fatal("no RabbitMQ node (beam.smp) found")
	return 0
}

// BenchmarkRabbitMQBatches measures the broker's side of the agents'
// traffic: sample batches of 50 Nova instances with 42 metrics each (what
// vmmon-agent publishes every interval on a compute node of 50 VMs), published
// persistent with publisher confirms, each waited for, from 8 connections at
// once (8 agents), into one queue bound as the collector's agent queue, and
// consumed from it with manual acks, in a classic durable queue and in a
// quorum queue. Metrics: batch-KiB and heartbeat-KiB (the size of a batch and
// of a heartbeat), msgs/s and MiB/s through the queue, and the broker's CPU
// per message (its Erlang VM's CPU time over the run).
//
//	make bed && go test -tags functional -run '^$' -bench RabbitMQBatches -benchtime 2000x ./tests/functional/
func BenchmarkRabbitMQBatches(b *testing.B) {
	url := bedEnvURL(b)
	u, err := transporturl.Parse(url)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	var bodies [][]byte
	for i := 0; i < 16; i++ {
		bodies = append(bodies, encodeAgentMessage(b, "compute-1", agentmsg.EventSamples, agentmsg.ObjectBatch,
			novaBatch("compute-1", uint64(i+1), 50, now.Add(time.Duration(i)*10*time.Second)), now))
	}
	hb := agentmsg.Heartbeat{Host: "compute-1", Stream: messaging.NewUUID(), AgentVersion: "1.0.0", Time: now, Interval: 10,
		LibvirtURI: "qemu:///system", LibvirtConnected: true, LibvirtVersion: "9.0.0", HypervisorType: "QEMU", HypervisorVersion: "7.2.0",
		Domains: 50, LastSeq: 1234, LastDurationMS: 12.5, HostCPUs: 64, HostMemoryMB: 257000, HostFreeMemoryMB: 120000}
	for _, n := range []string{"libvirt.list", "libvirt.xml", "libvirt.bulk", "libvirt.domain", "cpu", "memory", "block", "net"} {
		hb.Samplers = append(hb.Samplers, agentmsg.SamplerStatus{Name: n, DurationMS: 1.234, Calls: 50})
	}
	heartbeat := encodeAgentMessage(b, "compute-1", agentmsg.EventHeartbeat, agentmsg.ObjectHeartbeat, hb, now)
	rabbit := rabbitmqPID(b)
	for _, kind := range []string{"classic", "quorum"} {
		b.Run(kind, func(b *testing.B) {
			name := fmt.Sprintf("vmmon-bench-%d", time.Now().UnixNano())
			conn, err := amqp.Dial(u.AMQPURI(0))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			ch, err := conn.Channel()
			if err != nil {
				b.Fatal(err)
			}
			args := amqp.Table{}
			if kind == "quorum" {
				args["x-queue-type"] = "quorum"
			}
			if err := ch.ExchangeDeclare(name, "topic", true, false, false, false, nil); err != nil {
				b.Fatal(err)
			}
			if _, err := ch.QueueDeclare(name, true, false, false, false, args); err != nil {
				b.Fatal(err)
			}
			defer func() {
				_, _ = ch.QueueDelete(name, false, false, false)
				_ = ch.ExchangeDelete(name, false, false)
			}()
			if err := ch.QueueBind(name, agentmsg.KindSamples+".*", name, false, nil); err != nil {
				b.Fatal(err)
			}
			if err := ch.Qos(32, 0, false); err != nil {
				b.Fatal(err)
			}
			deliveries, err := ch.Consume(name, "", false, false, false, false, nil)
			if err != nil {
				b.Fatal(err)
			}
			const publishers = 8
			var pubs []*amqp.Channel
			for p := 0; p < publishers; p++ {
				pc, err := amqp.Dial(u.AMQPURI(0))
				if err != nil {
					b.Fatal(err)
				}
				defer pc.Close()
				pch, err := pc.Channel()
				if err != nil {
					b.Fatal(err)
				}
				if err := pch.Confirm(false); err != nil {
					b.Fatal(err)
				}
				pubs = append(pubs, pch)
			}
			var bytes atomic.Int64
			b.ResetTimer()
			t0, cpu0 := time.Now(), procCPU(rabbit)
			errs := make(chan error, publishers)
			for p, pch := range pubs {
				go func() {
					for i := p; i < b.N; i += publishers {
						body := bodies[i%len(bodies)]
						dc, err := pch.PublishWithDeferredConfirmWithContext(context.Background(), name, fmt.Sprintf("samples.compute-%d", p), true, false,
							amqp.Publishing{Body: body, DeliveryMode: amqp.Persistent, ContentType: "application/json"})
						if err == nil && !dc.Wait() {
							err = fmt.Errorf("message %d not confirmed", i)
						}
						if err != nil {
							errs <- err
							return
						}
						bytes.Add(int64(len(body)))
					}
					errs <- nil
				}()
			}
			for got := 0; got < b.N; got++ {
				select {
				case d, ok := <-deliveries:
					if !ok {
						b.Fatalf("consumer closed after %d messages", got)
					}
					_ = d.Ack(false)
				case <-time.After(time.Minute):
					b.Fatalf("only %d of %d messages after a minute without one", got, b.N)
				}
			}
			el, cpu := time.Since(t0), procCPU(rabbit)-cpu0
			b.StopTimer()
			for range pubs {
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(bodies[0]))/1024, "batch-KiB")
			b.ReportMetric(float64(len(heartbeat))/1024, "heartbeat-KiB")
			b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
			b.ReportMetric(float64(bytes.Load())/el.Seconds()/(1<<20), "MiB/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "rabbitmq-cpu-µs/msg")
		})
	}
}
