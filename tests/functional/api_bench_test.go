//go:build functional

package functional

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/tests/bedenv"
)

// BenchmarkAPIMeasures measures GET .../measures for 24 h at 1 min and 30
// days at 1 h of one instance, with 10,000 instances stored in Cassandra,
// from the vmmon-api binary (its own process, as deployed, with noauth) while
// a second process (tests/bench/loadgen) loads it with the listing and both
// queries from VMMON_BENCH_LOAD_CONNS connections (4) at
// VMMON_BENCH_LOAD_RATE requests per second in all (200; 0 sends each next
// request as soon as the last is answered, which saturates this box).
// Metrics: p50-ms and p99-ms of the measured calls, load-req/s the load the
// second process sent meanwhile, api-peak-rss-MB vmmon-api's peak resident
// memory so far.
//
//	make bed && go test -tags functional -run '^$' -bench APIMeasures -benchtime 1000x ./tests/functional/
func BenchmarkAPIMeasures(b *testing.B) {
	env := bedenv.Load(b)
	s := openCassandra(b)
	end := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	start := end.Add(-30 * 24 * time.Hour)
	id := "00000000-0000-4000-8000-000000000042"
	seedReadData(b, s, id, start, end)
	base, apiPID := startBenchAPI(b, env, s.Keyspace())
	q := func(from time.Time, g int) string {
		return fmt.Sprintf("%s/v1/instances/%s/metrics/cpu_util/measures?start=%s&end=%s&granularity=%d", base, id,
			from.Format(time.RFC3339), end.Format(time.RFC3339), g)
	}
	day, month := q(end.Add(-24*time.Hour), 60), q(start, 3600)
	loadgen := buildCmd(b, "tests/bench/loadgen")
	conns, rate := os.Getenv("VMMON_BENCH_LOAD_CONNS"), os.Getenv("VMMON_BENCH_LOAD_RATE")
	if conns == "" {
		conns = "4"
	}
	if rate == "" {
		rate = "200"
	}
	for _, c := range []struct{ name, url string }{{"24h-at-1min", day}, {"30d-at-1h", month}} {
		b.Run(c.name, func(b *testing.B) {
			load := exec.Command(loadgen, "-c", conns, "-rate", rate, "-d", "10m", base+"/v1/instances?all_projects=true&limit=100", day, month)
			var loadOut strings.Builder
			load.Stdout, load.Stderr = &loadOut, &loadOut
			if err := load.Start(); err != nil {
				b.Fatal(err)
			}
			time.Sleep(time.Second) // the load reaches its pace
			cpu0 := procCPU(apiPID)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				resp, err := http.Get(c.url)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat = append(lat, time.Since(t0))
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			b.StopTimer()
			cpu := procCPU(apiPID) - cpu0
			_ = load.Process.Signal(syscall.SIGTERM)
			if err := load.Wait(); err != nil {
				b.Fatalf("second process: %v\n%s", err, loadOut.String())
			}
			var sent int
			var secs, loadRate float64
			if _, err := fmt.Sscanf(loadOut.String(), "requests=%d seconds=%g rate=%g", &sent, &secs, &loadRate); err != nil || sent == 0 {
				b.Fatalf("second process sent nothing: %q (%v)", loadOut.String(), err)
			}
			if !strings.Contains(loadOut.String(), fmt.Sprintf("codes=map[200:%d]", sent)) {
				b.Fatalf("second process got errors: %s", loadOut.String())
			}
			p50, p99 := percentiles(lat)
			b.ReportMetric(p50, "p50-ms")
			b.ReportMetric(p99, "p99-ms")
			b.ReportMetric(loadRate, "load-req/s")
			// vmmon-api's CPU per request while measured and loaded (the
			// load's requests and the measured ones; the load's first
			// second is left out of both).
			b.ReportMetric(float64(cpu.Microseconds())/(loadRate*b.Elapsed().Seconds()+float64(b.N)), "api-cpu-µs/req")
			b.ReportMetric(peakRSSMB(b, apiPID), "api-peak-rss-MB")
		})
	}
}

// startBenchAPI runs vmmon-api on the keyspace with noauth on loopback and
// returns its base URL and process id once it answers.
func startBenchAPI(b *testing.B, env bedenv.Env, keyspace string) (string, int) {
	port := freePort(b)
	cfg := writeConfig(b, fmt.Sprintf("[DEFAULT]\nauth_strategy = noauth\ntransport_url = %s\n[api]\nbind_host = 127.0.0.1\nbind_port = %d\n",
		env.Get(b, "VMMON_TRANSPORT_URL"), port)+cassandraSection(b, env, keyspace))
	base, cmd, _ := runAPI(b, cfg, port)
	return base, cmd.Process.Pid
}
