//go:build functional

package functional

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon-agent/agent"
	"opendev.org/openstack/vmmon/vmmon-agent/hypervisor"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAgentCycle measures one collection cycle (list, bulk read,
// per-domain fallback where the driver needs it, metrics and rates) with the
// test driver at 1, 50 and 200 domains and on the QEMU guest: CPU time and
// wall time per cycle, and the process's peak RSS.
//
//	make bed && go test -tags functional -run '^$' -bench AgentCycle ./tests/functional/
func BenchmarkAgentCycle(b *testing.B) {
	env := bedenv.Load(b)
	uris := []struct{ name, uri string }{}
	for _, n := range []int{1, 50, 200} {
		key := fmt.Sprintf("VMMON_LIBVIRT_TEST_URI_%d", n)
		if _, ok := env[key]; !ok {
			if out, err := exec.Command(bedenv.Script("libvirt.sh"), "testxml", fmt.Sprint(n)).CombinedOutput(); err != nil {
				b.Fatalf("generating %d test domains: %v\n%s", n, err, out)
			}
			env = bedenv.Load(b)
		}
		uris = append(uris, struct{ name, uri string }{fmt.Sprintf("test-driver-%d", n), env.Get(b, key)})
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
			b.ReportMetric(peakRSSMB(b, os.Getpid()), "peak-rss-MB")
		})
	}
}
