//go:build functional

package functional

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/storage/cassandra"
	"opendev.org/openstack/vmmon/vmmon/storage/storagetest"
)

// The fleet of the fleet-view benchmarks: 10,000 instances on 100 hosts of
// 100 each; a host's instances belong to one project, hosts 0-9 to p00
// (1,000 instances), the 90 others to p01-p49 (about 184 instances each).
const (
	fleetInstances = 10000
	fleetHosts     = 100
	historyHost    = 42 // the host with a day of history
)

func fleetID(i int) string   { return fmt.Sprintf("f1ee7000-0000-4000-8000-%012d", i) }
func fleetHost(i int) string { return fmt.Sprintf("h%02d", i%fleetHosts) }
func fleetProject(i int) string {
	if h := i % fleetHosts; h >= 10 {
		return fmt.Sprintf("p%02d", 1+(h-10)%49)
	}
	return "p00"
}

// fleetMinute is one point of cpu_util at t for each of the instances i
// that keep returns true for (a point a minute: what a minute's rollups and
// groups cost does not depend on how many points it has).
func fleetMinute(t time.Time, keep func(i int) bool) []storage.Sample {
	var out []storage.Sample
	for i := 0; i < fleetInstances; i++ {
		if keep(i) {
			out = append(out, storage.Sample{InstanceID: fleetID(i), Metric: "cpu_util", Time: t, Value: float64((i*7919)%1000) / 10,
				Unit: "%", Kind: "rate", ProjectID: fleetProject(i), Host: fleetHost(i)})
		}
	}
	return out
}

// seedFleet stores the fleet's instances, three minutes of cpu_util of
// every instance ending five minutes ago (latest values), and a day of
// cpu_util of the 100 instances of host h42 ending ten minutes ago, all
// through WriteSamples and ProcessRollups; it returns the day's end.
func seedFleet(b *testing.B, s *cassandra.Store) time.Time {
	b.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Minute)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := 0; i < fleetInstances; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			_ = s.PutInstance(ctx, storage.Instance{ID: fleetID(i), Name: fmt.Sprintf("vm-%05d", i), ProjectID: fleetProject(i),
				Host: fleetHost(i), State: "active", FlavorName: "m1.small", UpdatedAt: now})
		}(i)
	}
	wg.Wait()
	dayEnd := now.Add(-10 * time.Minute)
	var day []storage.Sample
	for t := dayEnd.Add(-24 * time.Hour); t.Before(dayEnd); t = t.Add(time.Minute) {
		day = append(day, fleetMinute(t, func(i int) bool { return i%fleetHosts == historyHost })...)
	}
	for m := 7; m >= 5; m-- {
		day = append(day, fleetMinute(now.Add(-time.Duration(m)*time.Minute), func(int) bool { return true })...)
	}
	t0 := time.Now()
	storagetest.Write(b, s, day)
	b.Logf("seeded %d points in %s", len(day), time.Since(t0).Round(time.Second))
	return dayEnd
}

// BenchmarkCassandraAggregates measures fleet views over 10,000 instances
// (50 projects, 100 hosts) in Cassandra: top-10 instances by latest
// cpu_util across all projects and within the project of 1,000, and one
// host's sum of cpu_util over 24 h at 1 min, from the driver (with and,
// for latest values, without its cache of folds) and from the vmmon-api
// binary (noauth, its own process) over HTTP. Metrics: p50-ms and p99-ms.
//
//	make bed && go test -tags functional -run '^$' -bench CassandraAggregates -benchtime 300x ./tests/functional/
func BenchmarkCassandraAggregates(b *testing.B) {
	env := bedenv.Load(b)
	s := openCassandra(b)
	ctx := context.Background()
	dayEnd := seedFleet(b, s)
	dayStart := dayEnd.Add(-24 * time.Hour)
	base, _ := startBenchAPI(b, env, s.Keyspace())
	host := fmt.Sprintf("h%02d", historyHost)
	cases := []struct {
		name  string
		q     storage.AggregateQuery
		query string
		check func(as []storage.Aggregate) bool
	}{
		{"top10-all-projects", storage.AggregateQuery{Metric: "cpu_util", Limit: 10}, "/v1/aggregates?metric=cpu_util&limit=10",
			func(as []storage.Aggregate) bool {
				return len(as) == 10 && as[0].Value >= as[9].Value && as[0].Name != ""
			}},
		{"top10-project-1000", storage.AggregateQuery{Metric: "cpu_util", ProjectID: "p00", Limit: 10},
			"/v1/aggregates?metric=cpu_util&project_id=p00&limit=10",
			func(as []storage.Aggregate) bool { return len(as) == 10 && as[0].ProjectID == "p00" }},
		{"host-sum-24h-1min", storage.AggregateQuery{Metric: "cpu_util", GroupBy: storage.GroupByHost, Host: host, Aggregation: "sum",
			Start: dayStart, End: dayEnd, Granularity: time.Minute},
			fmt.Sprintf("/v1/aggregates/measures?metric=cpu_util&group_by=host&host=%s&aggregation=sum&granularity=60&start=%s&end=%s",
				host, url.QueryEscape(dayStart.Format(time.RFC3339)), url.QueryEscape(dayEnd.Format(time.RFC3339))),
			func(as []storage.Aggregate) bool {
				return len(as) == 1 && len(as[0].Points) == 1440 && as[0].Series == 100
			}},
	}
	// The same keyspace without the cache of latest values' folds.
	cfg := cassandraConfig(b, s.Keyspace())
	cfg.LatestCache = -1
	uncached, err := cassandra.Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer uncached.Close()
	for _, c := range cases {
		for _, d := range []struct {
			name  string
			store *cassandra.Store
		}{{"driver", s}, {"driver-uncached", uncached}} {
			if d.name == "driver-uncached" && !c.q.Latest() {
				continue
			}
			b.Run(c.name+"/"+d.name, func(b *testing.B) {
				lat := make([]time.Duration, 0, b.N)
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					as, err := d.store.Aggregates(ctx, c.q)
					lat = append(lat, time.Since(t0))
					if err != nil || !c.check(as) {
						b.Fatalf("%v: %d groups %+v", err, len(as), as[:min(len(as), 2)])
					}
				}
				p50, p99 := percentiles(lat)
				b.ReportMetric(p50, "p50-ms")
				b.ReportMetric(p99, "p99-ms")
			})
		}
		b.Run(c.name+"/api", func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				resp, err := http.Get(base + c.query)
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				lat = append(lat, time.Since(t0))
				if resp.StatusCode != 200 {
					b.Fatalf("status %d: %s", resp.StatusCode, body)
				}
			}
			p50, p99 := percentiles(lat)
			b.ReportMetric(p50, "p50-ms")
			b.ReportMetric(p99, "p99-ms")
		})
	}
}

// BenchmarkCassandraGroupCost measures what group series add to the
// collector's storage work: the same 10 minutes of agent cycles (100
// instances with 20 metrics every 10 s, 120,000 points) written and rolled
// up, without a project and host (no groups) and with them (the instances
// of one host in one project, as in a fleet of 100 instances a host),
// alternately. Metrics: points/s of each, and what the groups add as a
// share of the cost without them: extra-% of the time, write-extra-% and
// rollup-extra-% of each step's, and cpu-extra-% of the CPU time of the
// benchmark and Cassandra together (on a shared machine, the figure least
// moved by others' work).
//
//	make bed && go test -tags functional -run '^$' -bench CassandraGroupCost -benchtime 3x ./tests/functional/
func BenchmarkCassandraGroupCost(b *testing.B) {
	s := openCassandra(b)
	ctx := context.Background()
	from := time.Now().UTC().Truncate(time.Hour).Add(-5 * time.Hour)
	var plainCPU, groupedCPU float64
	// run writes and rolls up one set of cycles; it returns the time each
	// took, and adds the CPU time it cost (the benchmark's and Cassandra's).
	run := func(i int, grouped bool) (write, rollup time.Duration) {
		prefix := fmt.Sprintf("cost-%t-%d", grouped, i)
		start := from.Add(time.Duration(i) * 10 * time.Minute)
		cpu0 := cpuSeconds(b)
		defer func() {
			if grouped {
				groupedCPU += cpuSeconds(b) - cpu0
			} else {
				plainCPU += cpuSeconds(b) - cpu0
			}
		}()
		t0 := time.Now()
		for c := 0; c < 60; c++ {
			batch := cycleBatch(prefix, start.Add(time.Duration(c)*10*time.Second), c)
			if grouped {
				for k := range batch {
					batch[k].ProjectID, batch[k].Host = "cost-project-"+prefix, "cost-host-"+prefix
				}
			}
			if err := s.WriteSamples(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		storagetest.ProcessAll(b, s)
		return t1.Sub(t0), time.Since(t1)
	}
	var plain, grouped, plainWrite, groupedWrite time.Duration
	for i := 0; i < b.N; i++ {
		for _, g := range []bool{i%2 == 1, i%2 == 0} {
			w, r := run(i, g)
			if g {
				grouped, groupedWrite = grouped+w+r, groupedWrite+w
			} else {
				plain, plainWrite = plain+w+r, plainWrite+w
			}
		}
	}
	b.ReportMetric(100*(groupedCPU-plainCPU)/plainCPU, "cpu-extra-%")
	b.ReportMetric(100*(groupedWrite.Seconds()-plainWrite.Seconds())/plainWrite.Seconds(), "write-extra-%")
	b.ReportMetric(100*((grouped-groupedWrite).Seconds()-(plain-plainWrite).Seconds())/(plain-plainWrite).Seconds(), "rollup-extra-%")
	b.ReportMetric(float64(b.N*120000)/plain.Seconds(), "plain-points/s")
	b.ReportMetric(float64(b.N*120000)/grouped.Seconds(), "grouped-points/s")
	b.ReportMetric(100*(grouped.Seconds()-plain.Seconds())/plain.Seconds(), "extra-%")
}

// cpuSeconds is the CPU time used so far by this process and the bed's
// Cassandra.
func cpuSeconds(b *testing.B) float64 {
	var self syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &self); err != nil {
		b.Fatal(err)
	}
	total := time.Duration(self.Utime.Nano() + self.Stime.Nano()).Seconds()
	pid, err := os.ReadFile("/var/tmp/vmmon-bed/run/cassandra.pid")
	if err != nil {
		b.Fatalf("the bed's Cassandra: %v", err)
	}
	stat, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/stat")
	if err != nil {
		b.Fatalf("the bed's Cassandra: %v", err)
	}
	// utime and stime are the 14th and 15th fields, in USER_HZ (100 Hz).
	var ticks [2]float64
	after := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	for i := range ticks {
		if _, err := fmt.Sscan(after[11+i], &ticks[i]); err != nil {
			b.Fatal(err)
		}
	}
	return total + (ticks[0]+ticks[1])/100
}
