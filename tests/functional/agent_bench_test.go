//go:build functional

package functional

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon-agent/agent"
	"opendev.org/openstack/vmmon/vmmon-agent/hypervisor"
	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/transporturl"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAgentCycle measures one collection cycle (list, bulk read,
// per-domain fallback where the driver needs it, metrics and rates) inside
// the test binary, with the test driver at 1, 50 and 200 domains and on the
// QEMU guest: CPU time and wall time per cycle. It isolates collection (for
// profiling with -cpuprofile); BenchmarkAgentProcess measures the product.
//
//	make bed && go test -tags functional -run '^$' -bench AgentCycle ./tests/functional/
func BenchmarkAgentCycle(b *testing.B) {
	env := bedenv.Load(b)
	uris := []struct{ name, uri string }{}
	for _, n := range []int{1, 50, 200} {
		uris = append(uris, struct{ name, uri string }{fmt.Sprintf("test-driver-%d", n), testDriverURI(b, n)})
	}
	uris = append(uris, struct{ name, uri string }{"qemu-guest", env.Get(b, "VMMON_LIBVIRT_URI")})
	for _, u := range uris {
		b.Run(u.name, func(b *testing.B) {
			a := agent.New(agent.Config{Host: "bench", LibvirtURI: u.uri, Interval: 10 * time.Second, Timeout: 10 * time.Second},
				hypervisor.Dial, nil, nil, nil)
			ctx := context.Background()
			if _, err := a.Collect(ctx); err != nil { // connect and read metadata once, as a running agent has
				b.Fatal(err)
			}
			b.ResetTimer()
			cpu0, wall0 := cpuTime(), time.Now()
			for i := 0; i < b.N; i++ {
				if _, err := a.Collect(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/cycle")
			b.ReportMetric(float64(time.Since(wall0).Microseconds())/1000/float64(b.N), "wall-ms/cycle")
		})
	}
}

// testDriverURI returns the URI of the bed's test-driver node of n domains,
// opened inside the caller's process (test:///path.xml), generating the node
// (tests/bed/libvirt.sh testxml n) when the bed has none.
func testDriverURI(b testing.TB, n int) string {
	return testNodeURI(b, "VMMON_LIBVIRT_TEST_URI", n)
}

// testDaemonURI returns the URI of the same node served by the bed's libvirtd
// (test+unix:///path.xml): the daemon parses the file and holds the domains,
// one copy per connection, and the caller's libvirt speaks to it over its
// UNIX socket as it does to qemu:///system.
func testDaemonURI(b testing.TB, n int) string {
	return testNodeURI(b, "VMMON_LIBVIRT_TEST_DAEMON_URI", n)
}

func testNodeURI(b testing.TB, prefix string, n int) string {
	key := fmt.Sprintf("%s_%d", prefix, n)
	env := bedenv.Load(b)
	if _, ok := env[key]; !ok {
		if out, err := exec.Command(bedenv.Script("libvirt.sh"), "testxml", fmt.Sprint(n)).CombinedOutput(); err != nil {
			b.Fatalf("generating %d test domains: %v\n%s", n, err, out)
		}
		env = bedenv.Load(b)
	}
	return env.Get(b, key)
}

// BenchmarkAgentProcess measures vmmon-agent as it runs on a compute node —
// the binary, collecting, encoding, spooling, publishing with confirms to the
// bed's RabbitMQ, heartbeats and events — side by side with Debian's
// Ceilometer compute agent (ceilometer-polling --polling-namespaces compute,
// discovering instances from the domains' Nova metadata) on the same libvirt
// URI, all three processes in the same run: vmmon-agent, ceilometer-polling
// with Debian's stock meter list and with every compute meter, each at the
// same interval and each publishing to a queue of the benchmark's that a
// consumer drains. After a warm-up, each process's CPU (utime+stime from
// /proc/<pid>/stat; for Ceilometer, its cotyledon master and the worker it
// forks) is read over whole intervals and divided by their number; peak RSS
// is each process's own VmHWM (for Ceilometer, the worker's: the polling one).
//
// The domains are libvirt test-driver nodes, in two rows per size.
// test-driver-<n> is how a compute node runs: the bed's libvirtd serves the
// node (test+unix:///path.xml) and holds its domains, and the processes talk
// to it over its UNIX socket as they would to qemu:///system; the row also
// reports the daemon's CPU per cycle, serving all of the row's processes.
// test-driver-in-process-<n> opens the node inside each process
// (test:///path.xml): the driver's domains, its XML parsing and its code
// pages count in the process's RSS and CPU. The test driver's bulk
// statistics hold the domains' state alone, so vmmon reads each running
// domain with per-domain calls: through libvirtd each is a round trip that
// QEMU's bulk call spares a compute node, which makes the CPU of the
// libvirtd rows pessimistic (their memory is the production one). The log
// explains each process's resident memory at the end of the row, from
// /proc/<pid>/smaps_rollup and /proc/<pid>/smaps.
//
//	make bed && tests/bed/install.sh bench-deps
//	go test -tags functional -run '^$' -bench AgentProcess -benchtime 1x -count 2 -timeout 2h ./tests/functional/
//	go test -tags functional -run '^$' -bench 'AgentProcess/^test-driver-200$' -benchtime 1x ./tests/functional/
//
// VMMON_BENCH_SIZES (default "1,50,200,1000,qemu"), VMMON_BENCH_LIBVIRT
// (default "libvirtd,in-process"), VMMON_BENCH_INTERVAL (seconds, default
// 10), VMMON_BENCH_CYCLES (default 12) and VMMON_BENCH_CEILOMETER=0
// (vmmon-agent alone) narrow a run; VMMON_BENCH_AGENT=<a vmmon-agent binary>
// measures that build, and VMMON_BENCH_COMPARE=<another one> runs it
// alongside, to weigh a change under the same load.
func BenchmarkAgentProcess(b *testing.B) {
	env := bedenv.Load(b)
	url := env.Get(b, "VMMON_TRANSPORT_URL")
	interval := time.Duration(benchEnvInt("VMMON_BENCH_INTERVAL", 10)) * time.Second
	cycles := benchEnvInt("VMMON_BENCH_CYCLES", 12)
	withCeilometer := os.Getenv("VMMON_BENCH_CEILOMETER") != "0"
	if withCeilometer {
		if _, err := exec.LookPath("ceilometer-polling"); err != nil {
			if out, err := exec.Command(bedenv.Script("install.sh"), "bench-deps").CombinedOutput(); err != nil {
				b.Fatalf("installing Ceilometer (tests/bed/install.sh bench-deps): %v\n%s", err, out)
			}
		}
		// Ceilometer's first cycle looks the domains' flavors up in Nova
		// and waits for as long as Nova's API does not answer.
		nova := env.Get(b, "VMMON_NOVA_URL")
		hc := &http.Client{Timeout: 15 * time.Second}
		resp, err := hc.Get(nova)
		if err != nil {
			b.Fatalf("Ceilometer needs the bed's Nova API, which does not answer (%v); VMMON_BENCH_CEILOMETER=0 measures vmmon-agent alone", err)
		}
		resp.Body.Close()
	}
	bin := os.Getenv("VMMON_BENCH_AGENT")
	if bin == "" {
		bin = buildCmd(b, "vmmon-agent/cmd/vmmon-agent")
	}
	sizes := os.Getenv("VMMON_BENCH_SIZES")
	if sizes == "" {
		sizes = "1,50,200,1000,qemu"
	}
	modes := os.Getenv("VMMON_BENCH_LIBVIRT")
	if modes == "" {
		modes = "libvirtd,in-process"
	}
	type row struct {
		name, uri string
		daemon    bool // the bed's libvirtd serves the domains
	}
	var rows []row
	for _, size := range strings.Split(sizes, ",") {
		if size == "qemu" {
			rows = append(rows, row{"qemu-guest", env.Get(b, "VMMON_LIBVIRT_URI"), true})
			continue
		}
		n, err := strconv.Atoi(size)
		if err != nil {
			b.Fatalf("VMMON_BENCH_SIZES: %q", size)
		}
		for _, mode := range strings.Split(modes, ",") {
			switch mode {
			case "libvirtd":
				rows = append(rows, row{fmt.Sprintf("test-driver-%d", n), testDaemonURI(b, n), true})
			case "in-process":
				rows = append(rows, row{fmt.Sprintf("test-driver-in-process-%d", n), testDriverURI(b, n), false})
			default:
				b.Fatalf("VMMON_BENCH_LIBVIRT: %q (libvirtd or in-process)", mode)
			}
		}
	}
	for _, rw := range rows {
		b.Run(rw.name, func(b *testing.B) {
			r := &benchRow{b: b, env: env, url: url, uri: rw.uri, interval: interval, dir: b.TempDir(),
				tag: fmt.Sprintf("vmmon-bench-%d", time.Now().UnixNano())}
			defer r.stop()
			dropPageCache(b)
			vm := r.startVmmon("vmmon", bin)
			procs := []*benchProc{vm}
			if other := os.Getenv("VMMON_BENCH_COMPARE"); other != "" {
				procs = append(procs, r.startVmmon("vmmon-compared", other))
			}
			if withCeilometer {
				procs = append(procs, r.startCeilometer("stock", stockMeters()), r.startCeilometer("all", []string{"*"}))
			}
			// Warm-up: each process has published, then one more interval
			// (Ceilometer's first cycle looks its flavors up in Nova).
			until(b, 3*interval+2*time.Minute, "every process publishing", func() bool {
				for _, p := range procs {
					if p.seen.cycles() < 1 {
						return false
					}
				}
				return true
			})
			time.Sleep(interval + interval/2)
			daemon := 0
			if rw.daemon {
				daemon = libvirtdPID()
			}
			daemon0 := procCPUTicks(daemon)
			for _, p := range procs {
				p.begin()
			}
			time.Sleep(time.Duration(cycles) * interval)
			for _, p := range procs {
				p.end(cycles)
			}
			daemonTicks := procCPUTicks(daemon) - daemon0
			for _, p := range procs {
				b.ReportMetric(p.cpuPerCycle, p.name+"-cpu-ms/cycle")
			}
			if daemon != 0 {
				b.ReportMetric(float64(daemonTicks)*1000/float64(clockTicks)/float64(cycles), "libvirtd-cpu-ms/cycle")
			}
			for _, p := range procs {
				b.ReportMetric(p.peakRSS, p.name+"-rss-MiB")
			}
			vm.seen.mu.Lock()
			b.ReportMetric(vm.seen.bytesPerCycle(cycles)/1024, "vmmon-KiB/cycle")
			vm.seen.mu.Unlock()
			for _, p := range procs[1:] {
				b.ReportMetric(p.cpuPerCycle/vm.cpuPerCycle, p.name+"/vmmon")
			}
			for _, p := range procs {
				b.Logf("%s: %.2f ms CPU per cycle, peak RSS %.1f MiB, %s", p.name, p.cpuPerCycle, p.peakRSS, p.seen.summary(cycles))
			}
			for _, p := range procs {
				b.Logf("%s: %s", p.name, rssBreakdown(p.rssOf()))
			}
		})
	}
}

// libvirtdPID is the bed's libvirtd (tests/bed/libvirt.sh), 0 when not found.
// dropPageCache empties the kernel's page cache before a row's processes
// start. Much of each process's RSS is pages of its executable and libraries
// mapped from the cache, and how many a touch maps depends on how the cache
// holds the file: a binary just written by the linker is held in larger
// pieces than one read from disk, and showed 0.8 MiB more of its executable
// resident than the same binary read back. Emptied first, every process's
// files are read the same way.
func dropPageCache(b *testing.B) {
	b.Helper()
	syscall.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("1"), 0); err != nil {
		b.Logf("page cache not dropped (%v): RSS of files then depends on how they were cached", err)
	}
}

func libvirtdPID() int {
	raw, err := os.ReadFile("/run/libvirtd.pid")
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	return pid
}

func benchEnvInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

// stockMeters are the compute meters of Debian's /etc/ceilometer/polling.yaml.
func stockMeters() []string {
	return []string{"cpu", "cpu_l3_cache", "memory.usage", "network.incoming.bytes", "network.incoming.packets",
		"network.outgoing.bytes", "network.outgoing.packets", "disk.device.read.bytes", "disk.device.read.requests",
		"disk.device.write.bytes", "disk.device.write.requests"}
}

type benchRow struct {
	b        *testing.B
	env      bedenv.Env
	url, uri string
	interval time.Duration
	dir, tag string
	procs    []*benchProc
	cleanups []func()
}

// benchProc is one process under measurement.
type benchProc struct {
	name        string
	cmd         *exec.Cmd
	seen        *benchSeen
	cpu0        int64   // clock ticks
	cpuPerCycle float64 // ms
	peakRSS     float64 // MiB
	b           *testing.B
	rssOf       func() int // pid whose VmHWM is reported
}

func (r *benchRow) stop() {
	for _, p := range r.procs {
		if p.cmd.Process != nil {
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM) // its process group: Ceilometer's worker too
			done := make(chan struct{})
			go func() { _ = p.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
				<-done
			}
		}
	}
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func (r *benchRow) start(name string, cmd *exec.Cmd, seen *benchSeen) *benchProc {
	logf, err := os.Create(filepath.Join(r.dir, name+".log"))
	if err != nil {
		r.b.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.b.Fatalf("starting %s: %v", name, err)
	}
	p := &benchProc{name: name, cmd: cmd, seen: seen, b: r.b}
	p.rssOf = func() int { return cmd.Process.Pid }
	r.procs = append(r.procs, p)
	r.cleanups = append(r.cleanups, func() {
		_ = logf.Close()
		if r.b.Failed() {
			out, _ := os.ReadFile(logf.Name())
			r.b.Logf("%s log (last 3000 bytes): %s", name, tail(out, 3000))
		}
	})
	return p
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// consume drains queue q (declared and bound here, as the process under
// measurement would find it) into seen, and deletes it at the end of the row.
func (r *benchRow) consume(q string, ex string, keys []string, seen *benchSeen) {
	opts := rabbitOptions(nil, r.url)
	opts.Prefetch = 100
	ctx, cancel := context.WithCancel(context.Background())
	c := messaging.NewConsumer(opts, messaging.Queue{Name: q, Bindings: []messaging.Binding{{
		Exchange: messaging.Exchange{Name: ex}, RoutingKeys: keys}}})
	done := make(chan error, 1)
	go func() {
		done <- c.Run(ctx, func(_ context.Context, d messaging.Delivery) messaging.Outcome {
			seen.add(r.b, d)
			return messaging.Ack
		})
	}()
	select {
	case <-c.Ready():
	case err := <-done:
		cancel()
		r.b.Fatalf("consumer of %s: %v", q, err)
	case <-time.After(20 * time.Second):
		cancel()
		r.b.Fatalf("consumer of %s not ready", q)
	}
	r.cleanups = append(r.cleanups, func() {
		cancel()
		<-done
		u, _ := transporturl.Parse(r.url)
		conn, err := amqp.Dial(u.AMQPURI(0))
		if err != nil {
			return
		}
		defer conn.Close()
		if ch, err := conn.Channel(); err == nil {
			_, _ = ch.QueueDelete(q, false, false, false)
			_ = ch.ExchangeDelete(ex, false, false)
		}
	})
}

func (r *benchRow) startVmmon(name, bin string) *benchProc {
	host, ex := "bench-"+r.tag+"-"+name, r.tag+"-"+name
	seen := &benchSeen{kind: "vmmon"}
	r.consume(ex+"-q", ex, []string{"samples." + host, "heartbeat." + host, "events." + host}, seen)
	cfg := filepath.Join(r.dir, name+".conf")
	body := fmt.Sprintf("[DEFAULT]\ntransport_url = %s\ncontrol_exchange = %s\n[agent]\nlibvirt_uri = %s\nhost = %s\ninterval = %d\nspool_dir = %s\n",
		r.url, ex, r.uri, host, int(r.interval.Seconds()), filepath.Join(r.dir, name+"-spool"))
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		r.b.Fatal(err)
	}
	return r.start(name, exec.Command(bin, "--config-file", cfg), seen)
}

// startCeilometer runs ceilometer-polling with meters, publishing to an
// exchange and topic of the row's own; its samples go to the queue
// oslo.messaging declares for them (<topic>.sample), which the benchmark
// declares first and drains.
func (r *benchRow) startCeilometer(set string, meters []string) *benchProc {
	name := "ceilometer-" + set
	dir := filepath.Join(r.dir, name)
	if err := os.MkdirAll(filepath.Join(dir, "lock"), 0o700); err != nil {
		r.b.Fatal(err)
	}
	ex, topic := r.tag+"-"+name, r.tag+"-"+name+"-notifications"
	seen := &benchSeen{kind: "ceilometer"}
	r.consume(topic+".sample", ex, []string{topic + ".sample"}, seen)
	polling := fmt.Sprintf("---\nsources:\n    - name: bench\n      interval: %d\n      meters:\n", int(r.interval.Seconds()))
	for _, m := range meters {
		polling += fmt.Sprintf("        - %q\n", m)
	}
	conf := fmt.Sprintf(`[DEFAULT]
host = bench-%s
transport_url = %s
control_exchange = %s
hypervisor_inspector = libvirt
libvirt_uri = %s
[oslo_messaging_notifications]
topics = %s
[compute]
instance_discovery_method = libvirt_metadata
[polling]
cfg_file = %s
[service_credentials]
auth_type = password
auth_url = %s
username = admin
password = %s
project_name = admin
user_domain_name = Default
project_domain_name = Default
region_name = RegionOne
interface = public
[oslo_concurrency]
lock_path = %s
`, r.tag, r.url, ex, r.uri, topic, filepath.Join(dir, "polling.yaml"), r.env.Get(r.b, "VMMON_KEYSTONE_URL"),
		r.env.Get(r.b, "VMMON_KEYSTONE_ADMIN_PASSWORD"), filepath.Join(dir, "lock"))
	for file, body := range map[string]string{"polling.yaml": polling, "ceilometer.conf": conf} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(body), 0o600); err != nil {
			r.b.Fatal(err)
		}
	}
	cmd := exec.Command("ceilometer-polling", "--polling-namespaces", "compute", "--config-file", filepath.Join(dir, "ceilometer.conf"))
	p := r.start(name, cmd, seen)
	p.rssOf = func() int {
		if kids := children(cmd.Process.Pid); len(kids) > 0 {
			return kids[0]
		}
		return cmd.Process.Pid
	}
	return p
}

func (p *benchProc) tree() []int {
	return append([]int{p.cmd.Process.Pid}, descendants(p.cmd.Process.Pid)...)
}

func (p *benchProc) ticks() int64 {
	var sum int64
	for _, pid := range p.tree() {
		sum += procCPUTicks(pid)
	}
	return sum
}

func (p *benchProc) begin() {
	p.cpu0 = p.ticks()
	p.seen.mark()
}

func (p *benchProc) end(cycles int) {
	if p.cmd.ProcessState != nil {
		p.b.Fatalf("%s exited", p.name)
	}
	ticks := p.ticks() - p.cpu0
	p.cpuPerCycle = float64(ticks) * 1000 / float64(clockTicks) / float64(cycles)
	p.peakRSS = procPeakRSSMiB(p.rssOf())
	if got := p.seen.since(); got == 0 {
		p.b.Fatalf("%s published nothing during the measurement", p.name)
	}
}

// clockTicks is USER_HZ, the unit of utime and stime.
const clockTicks = 100

// procCPUTicks returns utime+stime of pid, 0 when it is gone.
func procCPUTicks(pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(raw), ')')
	f := strings.Fields(string(raw[i+1:])) // f[0] is field 3 (state)
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

func procPPID(pid int) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(raw), ')')
	f := strings.Fields(string(raw[i+1:]))
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

func children(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		if c, err := strconv.Atoi(e.Name()); err == nil && procPPID(c) == pid {
			out = append(out, c)
		}
	}
	return out
}

func descendants(pid int) []int {
	var out []int
	for _, c := range children(pid) {
		out = append(out, c)
		out = append(out, descendants(c)...)
	}
	return out
}

func procPeakRSSMiB(pid int) float64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// rssBreakdown explains where pid's resident memory is now (its current RSS,
// not its peak): the totals of /proc/<pid>/smaps_rollup (Rss; Pss, which
// splits each shared page among the processes mapping it; Anonymous), and,
// from /proc/<pid>/smaps, mapping by mapping, the pages read from files (of
// the executable, of libvirt.so, of the other shared libraries, the largest
// named; shared with every process mapping the same file) and the anonymous
// pages: those the loader and the program wrote in the files' data segments
// (relocations, .data, .bss), the brk heap (glibc's main malloc arena), Go's
// heap arenas (the anonymous mappings Go places below the kernel's mmap area,
// under 0x7e0000000000) and the rest (thread stacks, glibc's per-thread
// malloc arenas, Go's runtime metadata, Python's objects).
func rssBreakdown(pid int) string {
	rollup, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return "no smaps_rollup: " + err.Error()
	}
	total := map[string]float64{}
	for _, line := range strings.Split(string(rollup), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[2] == "kB" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			total[strings.TrimSuffix(f[0], ":")] = kb / 1024
		}
	}
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	smaps, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return "no smaps: " + err.Error()
	}
	var binary, libvirt, written, brk, goHeap, otherAnon, special float64
	libs := map[string]float64{}
	var path string
	var start uint64
	var rss float64 // of the current mapping, MiB
	for _, line := range strings.Split(string(smaps), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			start, _ = strconv.ParseUint(f[0][:strings.IndexByte(f[0], '-')], 16, 64)
			path = ""
			if len(f) >= 6 {
				path = strings.Join(f[5:], " ")
			}
			continue
		}
		if len(f) != 3 || (f[0] != "Rss:" && f[0] != "Anonymous:") {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		if f[0] == "Rss:" {
			rss = kb / 1024
			continue
		}
		anon := kb / 1024
		switch {
		case strings.HasPrefix(path, "/"):
			file := rss - anon
			written += anon
			switch {
			case path == exe:
				binary += file
			case strings.Contains(path, "/libvirt.so"):
				libvirt += file
			default:
				libs[filepath.Base(path)] += file
			}
		case path == "[heap]":
			brk += rss
		case path == "" && start < 0x7e0000000000:
			goHeap += rss
		case path == "":
			otherAnon += rss
		default: // [stack], [vdso], ...
			special += rss
		}
	}
	threads := "?"
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "Threads:"); ok {
				threads = strings.TrimSpace(v)
			}
		}
	}
	var otherLibs float64
	names := make([]string, 0, len(libs))
	for n, mib := range libs {
		otherLibs += mib
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return libs[names[i]] > libs[names[j]] })
	largest := make([]string, 0, 5)
	for _, n := range names[:min(5, len(names))] {
		largest = append(largest, fmt.Sprintf("%s %.1f", n, libs[n]))
	}
	return fmt.Sprintf("RSS now %.1f MiB (Pss %.1f): read from files %.1f MiB (its executable %.1f, libvirt.so %.1f, "+
		"%d other files %.1f: %s); anonymous %.1f MiB (written in the files' data segments %.1f, brk heap %.1f, "+
		"Go heap arenas %.1f, other anonymous %.1f, stack and the rest %.1f); %s threads",
		total["Rss"], total["Pss"], binary+libvirt+otherLibs, binary, libvirt, len(libs), otherLibs, strings.Join(largest, ", "),
		total["Anonymous"], written, brk, goHeap, otherAnon, special, threads)
}

// benchSeen counts what a process published: vmmon's batches, instances and
// metrics, or Ceilometer's samples by meter; its cycles are vmmon's batches
// or Ceilometer's runs of its cpu pollster.
type benchSeen struct {
	kind string
	mu   sync.Mutex
	// totals, and at mark()
	msgs, samples, instances, nCycles int
	bytes, markBytes                  int // on the wire, every message
	markMsgs, markSamples, markCycles int
	meters                            map[string]bool
	cpuStamps                         map[string]bool
}

func (s *benchSeen) add(b *testing.B, d messaging.Delivery) {
	m, err := messaging.Decode(d.Body)
	if err != nil {
		b.Errorf("%s: decode: %v", s.kind, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs++
	s.bytes += len(d.Body)
	if s.meters == nil {
		s.meters, s.cpuStamps = map[string]bool{}, map[string]bool{}
	}
	switch {
	case s.kind == "vmmon" && strings.HasPrefix(d.RoutingKey, agentmsg.KindSamples+"."):
		var batch agentmsg.Batch
		if err := agentmsg.Unwrap(m.Payload, agentmsg.ObjectBatch, &batch); err != nil {
			b.Errorf("batch: %v", err)
			return
		}
		s.nCycles++
		s.instances = len(batch.Instances)
		for _, i := range batch.Instances {
			s.samples += len(i.Metrics)
			for _, mt := range i.Metrics {
				s.meters[mt.Name] = true
			}
		}
	case s.kind == "ceilometer":
		var p struct {
			Samples []struct {
				CounterName string `json:"counter_name"`
				ResourceID  string `json:"resource_id"`
				Timestamp   string `json:"timestamp"`
			} `json:"samples"`
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			b.Errorf("ceilometer samples: %v", err)
			return
		}
		for _, x := range p.Samples {
			s.samples++
			s.meters[x.CounterName] = true
			if x.CounterName == "cpu" && !s.cpuStamps[x.Timestamp] {
				s.cpuStamps[x.Timestamp] = true
				s.nCycles++
			}
		}
	}
}

func (s *benchSeen) cycles() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nCycles
}

func (s *benchSeen) mark() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markMsgs, s.markSamples, s.markCycles, s.markBytes = s.msgs, s.samples, s.nCycles, s.bytes
}

func (s *benchSeen) since() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.msgs - s.markMsgs
}

func (s *benchSeen) summary(cycles int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	meters := make([]string, 0, len(s.meters))
	for m := range s.meters {
		meters = append(meters, m)
	}
	sort.Strings(meters)
	return fmt.Sprintf("%d cycles seen in %d intervals, %d messages, %.0f samples and %.0f bytes per cycle, %d meters: %s",
		s.nCycles-s.markCycles, cycles, s.msgs-s.markMsgs, float64(s.samples-s.markSamples)/float64(cycles),
		s.bytesPerCycle(cycles), len(meters), strings.Join(meters, " "))
}

// bytesPerCycle is what the process sent per interval since mark, on the
// wire; the caller holds mu.
func (s *benchSeen) bytesPerCycle(cycles int) float64 {
	return float64(s.bytes-s.markBytes) / float64(cycles)
}
