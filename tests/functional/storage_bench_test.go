//go:build functional

package functional

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/storage/cassandra"
	"opendev.org/openstack/vmmon/vmmon/storage/storagetest"
)

// benchStart is when the benchmarked stream starts: now, as for live agents
// (a bucket is marked for its rollup once while it is open).
var benchStart = time.Now().UTC().Truncate(time.Minute)

// benchBatch is one agent cycle of 100 instances with 20 metrics each, the
// cycles 10 s apart.
func benchBatch(cycle int) []storage.Sample {
	return cycleBatch("bench", benchStart.Add(time.Duration(cycle)*10*time.Second), cycle)
}

// cycleBatch is one cycle at t of 100 instances named prefix-NNNN with 20
// metrics each.
func cycleBatch(prefix string, t time.Time, cycle int) []storage.Sample {
	out := make([]storage.Sample, 0, 2000)
	for i := 0; i < 100; i++ {
		for m := 0; m < 20; m++ {
			out = append(out, storage.Sample{InstanceID: fmt.Sprintf("%s-%04d", prefix, i), Metric: fmt.Sprintf("metric.%02d", m),
				Time: t, Value: float64(cycle + m), Unit: "B", Kind: "gauge"})
		}
	}
	return out
}

// BenchmarkCassandraWrite compares the driver's WriteSamples (raw points,
// latest values and pending rollups) with plain gocql unlogged batches of the
// same raw rows, in the same run. Metric: points/s.
//
//	make bed && go test -tags functional -run '^$' -bench CassandraWrite -benchtime 200x ./tests/functional/
func BenchmarkCassandraWrite(b *testing.B) {
	s, session := openCassandraSession(b)
	ctx := context.Background()
	b.Run("driver", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := s.WriteSamples(ctx, benchBatch(i)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*2000)/b.Elapsed().Seconds(), "points/s")
	})
	b.Run("raw-gocql", func(b *testing.B) {
		table := s.Keyspace() + ".measures_raw"
		for i := 0; i < b.N; i++ {
			batch := benchBatch(i + 1_000_000)
			// The same rows in unlogged batches of 100, 16 at a time: the
			// fastest plain gocql we found for them.
			var wg sync.WaitGroup
			errs := make(chan error, 100)
			sem := make(chan struct{}, 16)
			for p := 0; p < len(batch); p += 100 {
				wg.Add(1)
				sem <- struct{}{}
				go func(rows []storage.Sample) {
					defer func() { <-sem; wg.Done() }()
					bt := session.NewBatch(gocql.UnloggedBatch)
					for _, r := range rows {
						bt.Query(`INSERT INTO `+table+` (instance_id, metric, device, day, ts, value) VALUES (?, ?, ?, ?, ?, ?)`,
							r.InstanceID, r.Metric, r.Device, r.Time.Truncate(24*time.Hour), r.Time, r.Value)
					}
					if err := session.ExecuteBatch(bt); err != nil {
						errs <- err
					}
				}(batch[p:min(p+100, len(batch))])
			}
			wg.Wait()
			close(errs)
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*2000)/b.Elapsed().Seconds(), "points/s")
	})
}

// seedReadData stores 10,000 instances and, for id, a point a minute of
// cpu_util from start to end, with its rollups.
func seedReadData(b *testing.B, s *cassandra.Store, id string, start, end time.Time) {
	b.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := 0; i < 10000; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			_ = s.PutInstance(ctx, storage.Instance{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), ProjectID: fmt.Sprintf("p%d", i%50),
				Host: fmt.Sprintf("h%d", i%100), State: "active", UpdatedAt: end})
		}(i)
	}
	wg.Wait()
	var batch []storage.Sample
	for t := start; t.Before(end); t = t.Add(time.Minute) {
		batch = append(batch, storage.Sample{InstanceID: id, Metric: "cpu_util", Time: t, Value: float64(t.Minute()), Unit: "%", Kind: "rate"})
	}
	storagetest.Write(b, s, batch)
}

func percentiles(d []time.Duration) (p50, p99 float64) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	at := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))].Microseconds()) / 1000 }
	return at(0.50), at(0.99)
}

// BenchmarkCassandraRead measures the measures query for 24 h at 1 min and
// 30 days at 1 h of one instance, with 10,000 instances stored, against a
// plain CQL read of the same packed rollup rows (without decoding them). Metrics: p50-ms and p99-ms.
//
//	make bed && go test -tags functional -run '^$' -bench CassandraRead -benchtime 500x ./tests/functional/
func BenchmarkCassandraRead(b *testing.B) {
	s, session := openCassandraSession(b)
	ctx := context.Background()
	end := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	start := end.Add(-30 * 24 * time.Hour)
	id := "00000000-0000-4000-8000-000000000042"
	seedReadData(b, s, id, start, end)
	ks := s.Keyspace()
	cases := []struct {
		name     string
		q        storage.MeasureQuery
		rawQuery func() error
		points   int
	}{
		{"24h-at-1min", storage.MeasureQuery{InstanceID: id, Metric: "cpu_util", Start: end.Add(-24 * time.Hour), End: end, Granularity: time.Minute, Aggregation: "mean"},
			func() error {
				iter := session.Query(`SELECT hour, v FROM `+ks+`.rollup_1m_packed WHERE instance_id = ? AND metric = ? AND device = ? AND day = ? AND hour >= ? AND hour < ?`,
					id, "cpu_util", "", end.Add(-24*time.Hour), end.Add(-24*time.Hour), end).Iter()
				for iter.Scan(new(time.Time), new([]byte)) {
				}
				return iter.Close()
			}, 1440},
		{"30d-at-1h", storage.MeasureQuery{InstanceID: id, Metric: "cpu_util", Start: start, End: end, Granularity: time.Hour, Aggregation: "mean"},
			func() error {
				for _, m := range []time.Time{time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)} {
					iter := session.Query(`SELECT day, v FROM `+ks+`.rollup_1h_packed WHERE instance_id = ? AND metric = ? AND device = ? AND month = ? AND day >= ? AND day < ?`,
						id, "cpu_util", "", m, start, end).Iter()
					for iter.Scan(new(time.Time), new([]byte)) {
					}
					if err := iter.Close(); err != nil {
						return err
					}
				}
				return nil
			}, 720},
	}
	for _, c := range cases {
		b.Run(c.name+"/driver", func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				res, err := s.Measures(ctx, c.q)
				lat = append(lat, time.Since(t0))
				if err != nil || len(res) != 1 || len(res[0].Points) != c.points {
					b.Fatalf("%v: %d series (%v)", err, len(res), res)
				}
			}
			p50, p99 := percentiles(lat)
			b.ReportMetric(p50, "p50-ms")
			b.ReportMetric(p99, "p99-ms")
		})
		b.Run(c.name+"/raw-cql", func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if err := c.rawQuery(); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			p50, p99 := percentiles(lat)
			b.ReportMetric(p50, "p50-ms")
			b.ReportMetric(p99, "p99-ms")
		})
	}
}

// BenchmarkCassandraRollups measures processing pending rollups: 100
// instances with 20 metrics, 10 minutes of a cycle every 10 s (120,000
// points, 20,000 minute buckets), closed, rolled up from the backlog.
// Metric: buckets/s (minute buckets, with their hours and packed rows).
//
//	make bed && go test -tags functional -run '^$' -bench CassandraRollups -benchtime 3x ./tests/functional/
func BenchmarkCassandraRollups(b *testing.B) {
	s := openCassandra(b)
	ctx := context.Background()
	from := time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		start := from.Add(time.Duration(i) * 10 * time.Minute)
		for c := 0; c < 60; c++ {
			if err := s.WriteSamples(ctx, cycleBatch("roll", start.Add(time.Duration(c)*10*time.Second), c)); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if total := storagetest.ProcessAll(b, s); total != 20000 {
			b.Fatalf("processed %d buckets, want 20000", total)
		}
	}
	b.ReportMetric(float64(b.N*20000)/b.Elapsed().Seconds(), "buckets/s")
}
