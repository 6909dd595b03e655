package storage

import (
	"testing"
	"time"
)

// topN keeps the n best items in order, whatever their arrival.
func TestTopN(t *testing.T) {
	items := []int{5, 3, 9, 1, 7, 3, 8, 2, 6, 0, 4}
	for n := 1; n <= len(items); n++ {
		got := topN(append([]int(nil), items...), n, func(a, b int) bool { return a > b })
		if len(got) != n || got[0] != 9 {
			t.Fatalf("n %d: %v", n, got)
		}
		for i := 1; i < len(got); i++ {
			if got[i] > got[i-1] {
				t.Fatalf("n %d: %v", n, got)
			}
		}
	}
}

// A group's forms: sum adds the members' means minute by minute, mean
// averages them, min, max, last and count go over every point.
func TestFoldMinute(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	var a, b Agg
	for i, v := range []float64{1, 2, 3} {
		a.Add(at.Add(time.Duration(i)*10*time.Second), v)
	}
	b.Add(at.Add(45*time.Second), 10)
	g := FoldMinute(at, []Member{{InstanceID: "a", Agg: a}, {InstanceID: "b", Agg: b}, {InstanceID: "c"}})
	for agg, want := range map[string]float64{"sum": 12, "mean": 6, "min": 1, "max": 10, "last": 10, "count": 4} {
		if got := g.Value(agg); got != want {
			t.Errorf("%s: %v; want %v", agg, got, want)
		}
	}
	if g.Series() != 2 {
		t.Errorf("series %d; want 2 (a member without points does not count)", g.Series())
	}
	var two GroupRollup
	two.Merge(g)
	two.Merge(FoldMinute(at.Add(time.Minute), []Member{{InstanceID: "a", Agg: b}}))
	if two.Value("sum") != 11 || two.Value("mean") != 22.0/3 || two.Series() != 2 {
		t.Errorf("two minutes: sum %v (want 11, the mean of 12 and 10), mean %v, series %d", two.Value("sum"), two.Value("mean"), two.Series())
	}
}
