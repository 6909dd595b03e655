package embedded

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// BenchmarkWrite writes agent cycles of 100 instances with 20 metrics.
//
//	go test -run '^$' -bench . ./vmmon/storage/embedded/
func BenchmarkWrite(b *testing.B) {
	s, err := Open(b.TempDir(), storage.Retention{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	base := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch := make([]storage.Sample, 0, 2000)
		for n := 0; n < 100; n++ {
			for m := 0; m < 20; m++ {
				batch = append(batch, storage.Sample{InstanceID: fmt.Sprintf("i%03d", n), Metric: fmt.Sprintf("m%02d", m),
					Time: base.Add(time.Duration(i) * 10 * time.Second), Value: float64(i)})
			}
		}
		if err := s.WriteSamples(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*2000)/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkRead30DaysAt1h reads 30 days at 1 h of a series with a point a minute.
func BenchmarkRead30DaysAt1h(b *testing.B) {
	s, err := Open(b.TempDir(), storage.Retention{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	end := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	start := end.Add(-30 * 24 * time.Hour)
	var batch []storage.Sample
	for t := start; t.Before(end); t = t.Add(time.Minute) {
		batch = append(batch, storage.Sample{InstanceID: "i", Metric: "cpu_util", Time: t, Value: 1})
	}
	if err := s.WriteSamples(context.Background(), batch); err != nil {
		b.Fatal(err)
	}
	q := storage.MeasureQuery{InstanceID: "i", Metric: "cpu_util", Start: start, End: end, Granularity: time.Hour, Aggregation: "mean"}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		res, err := s.Measures(context.Background(), q)
		lat = append(lat, time.Since(t0))
		if err != nil || len(res[0].Points) != 720 {
			b.Fatalf("%v %v", err, len(res))
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
