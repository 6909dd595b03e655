package embedded

import (
	"context"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// Points past their retention are removed; newer ones stay.
func TestRetention(t *testing.T) {
	s, err := Open(t.TempDir(), storage.Retention{Raw: time.Hour, Minute: 2 * time.Hour, Hour: 3 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	ctx := context.Background()
	var samples []storage.Sample
	for _, age := range []time.Duration{150 * time.Minute, 90 * time.Minute, 10 * time.Minute} {
		samples = append(samples, storage.Sample{InstanceID: "i", Metric: "m", Time: now.Add(-age), Value: 1})
	}
	if err := s.WriteSamples(ctx, samples); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ProcessRollups(ctx, 0); err != nil {
		t.Fatal(err)
	}
	count := func(g time.Duration) int {
		res, err := s.Measures(ctx, storage.MeasureQuery{InstanceID: "i", Metric: "m", Start: now.Add(-5 * time.Hour), End: now, Granularity: g, Aggregation: "count"})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range res[0].Points {
			if g == storage.Raw {
				n++
			} else {
				n += int(p.Value)
			}
		}
		return n
	}
	if raw, minute, hour := count(storage.Raw), count(time.Minute), count(time.Hour); raw != 1 || minute != 2 || hour != 3 {
		t.Errorf("after pruning: %d raw, %d in minute rollups, %d in hour rollups; want 1, 2, 3", raw, minute, hour)
	}
}
