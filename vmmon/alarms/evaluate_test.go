package alarms

import (
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// every makes points of one source every 10 s up to t0, oldest first.
func every(source string, values ...float64) []Point {
	var ps []Point
	for i, v := range values {
		ps = append(ps, Point{Time: t0.Add(-time.Duration(len(values)-1-i) * 10 * time.Second), Value: v, Source: source})
	}
	return ps
}

func TestEvaluate(t *testing.T) {
	rule := func(agg, cmp string, threshold float64, window, periods int) storage.Alarm {
		return storage.Alarm{Metric: "cpu_util", Aggregation: agg, Comparison: cmp, Threshold: threshold, Window: window, EvaluationPeriods: periods}
	}
	cases := []struct {
		name    string
		alarm   storage.Alarm
		points  []Point
		current string
		want    string
		value   float64
	}{
		{"mean above", rule("mean", "gt", 50, 30, 1), every("i", 10, 90, 90, 90), "ok", "alarm", 90},
		{"mean below", rule("mean", "gt", 50, 30, 1), every("i", 90, 10, 10, 10), "alarm", "ok", 10},
		{"at the threshold, gt", rule("mean", "gt", 50, 30, 1), every("i", 50, 50, 50), "alarm", "ok", 50},
		{"at the threshold, ge", rule("mean", "ge", 50, 30, 1), every("i", 50, 50, 50), "ok", "alarm", 50},
		{"lt", rule("min", "lt", 5, 30, 1), every("i", 9, 4, 9), "ok", "alarm", 4},
		{"le", rule("max", "le", 9, 30, 1), every("i", 9, 4, 9), "ok", "alarm", 9},
		{"last", rule("last", "gt", 50, 30, 1), every("i", 90, 90, 10), "alarm", "ok", 10},
		{"sum", rule("sum", "ge", 30, 30, 1), every("i", 10, 10, 10), "ok", "alarm", 30},
		{"count", rule("count", "lt", 3, 30, 1), every("i", 1, 1), "ok", "alarm", 2},
		{"no data", rule("mean", "gt", 50, 30, 1), nil, "alarm", "insufficient_data", 0},
		{"stale data", rule("mean", "gt", 50, 30, 1), []Point{{Time: t0.Add(-time.Minute), Value: 90, Source: "i"}}, "alarm",
			"insufficient_data", 0},
		{"two periods, both above", rule("mean", "gt", 50, 20, 2), every("i", 90, 90, 90, 90), "ok", "alarm", 90},
		{"two periods, one above: stays", rule("mean", "gt", 50, 20, 2), every("i", 10, 10, 90, 90), "ok", "ok", 90},
		{"two periods, one above: stays alarm", rule("mean", "gt", 50, 20, 2), every("i", 90, 90, 10, 10), "alarm", "alarm", 10},
		{"two periods, older empty", rule("mean", "gt", 50, 20, 2), every("i", 90, 90), "ok", "insufficient_data", 0},
		{"project: every instance's points", rule("mean", "gt", 50, 30, 1), append(every("i1", 100, 100, 100), every("i2", 0, 0, 0)...),
			"ok", "ok", 50},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var w Window
			for _, p := range c.points {
				w.Add(p)
			}
			v := Evaluate(c.alarm, &w, t0, c.current)
			if v.State != c.want || v.Reason == "" {
				t.Errorf("state %s (%s); want %s", v.State, v.Reason, c.want)
			}
			if c.value != 0 && (v.Value == nil || *v.Value != c.value) {
				t.Errorf("value %v; want %g", v.Value, c.value)
			}
		})
	}
}

func TestWindow(t *testing.T) {
	var w Window
	for _, p := range []Point{{Time: t0, Value: 1, Source: "a"}, {Time: t0.Add(-time.Second), Value: 2, Source: "a"},
		{Time: t0, Value: 3, Source: "b"}, {Time: t0, Value: 9, Source: "a"}} {
		w.Add(p)
	}
	if w.Len() != 3 || w.points[0].Value != 2 {
		t.Errorf("after adds (a repeated point dropped): %+v", w.points)
	}
	w.Prune(t0)
	if w.Len() != 2 || !w.points[0].Time.Equal(t0) {
		t.Errorf("after prune: %+v", w.points)
	}
}
