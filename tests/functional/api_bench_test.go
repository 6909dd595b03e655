//go:build functional

package functional

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon/api"
	"opendev.org/openstack/vmmon/vmmon/auth"
	"opendev.org/openstack/vmmon/vmmon/policy"
)

// BenchmarkAPIMeasures measures GET .../measures for 24 h at 1 min and 30
// days at 1 h of one instance, with 10,000 instances stored in Cassandra,
// while a second process (tests/bench/loadgen) loads the same API from 4
// connections (VMMON_BENCH_LOAD_CONNS). Metrics: p50-ms and p99-ms.
//
//	make bed && go test -tags functional -run '^$' -bench APIMeasures -benchtime 300x ./tests/functional/
func BenchmarkAPIMeasures(b *testing.B) {
	s := openCassandra(b)
	end := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	start := end.Add(-30 * 24 * time.Hour)
	id := "00000000-0000-4000-8000-000000000042"
	seedReadData(b, s, id, start, end)
	pol, _ := policy.New("")
	srv := httptest.NewServer(api.New(api.Config{Store: s, Validator: auth.NoAuth{}, Policy: pol, MaxPoints: 10000,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler())
	defer srv.Close()
	q := func(from time.Time, g int) string {
		return fmt.Sprintf("%s/v1/instances/%s/metrics/cpu_util/measures?start=%s&end=%s&granularity=%d", srv.URL, id,
			from.Format(time.RFC3339), end.Format(time.RFC3339), g)
	}
	day, month := q(end.Add(-24*time.Hour), 60), q(start, 3600)
	// The second process: loads the listing and both queries for as long as we measure.
	conns := os.Getenv("VMMON_BENCH_LOAD_CONNS")
	if conns == "" {
		conns = "4"
	}
	load := exec.Command("go", "run", "./tests/bench/loadgen", "-c", conns, "-d", "60s", srv.URL+"/v1/instances?all_projects=true&limit=100", day, month)
	load.Dir = bedenv.RepoRoot()
	var loadOut strings.Builder
	load.Stdout = &loadOut
	if err := load.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = load.Process.Kill()
		_ = load.Wait()
		b.Logf("second process: %s", strings.TrimSpace(loadOut.String()))
	}()
	time.Sleep(3 * time.Second) // let go run build and start
	for _, c := range []struct{ name, url string }{{"24h-at-1min", day}, {"30d-at-1h", month}} {
		b.Run(c.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
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
			p50, p99 := percentiles(lat)
			b.ReportMetric(p50, "p50-ms")
			b.ReportMetric(p99, "p99-ms")
		})
	}
}
