package alarms

import (
	"fmt"
	"math"
	"sort"
	"time"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// Point is one value an alarm watches: of an instance (Source) at a time.
type Point struct {
	Time   time.Time
	Value  float64
	Source string
}

// Window is the points an alarm needs, in time order.
type Window struct{ points []Point }

// Add keeps p unless the same source's point at that time is there already.
func (w *Window) Add(p Point) {
	i := sort.Search(len(w.points), func(i int) bool { return !w.points[i].Time.Before(p.Time) })
	for j := i; j < len(w.points) && w.points[j].Time.Equal(p.Time); j++ {
		if w.points[j].Source == p.Source {
			return
		}
	}
	w.points = append(w.points, Point{})
	copy(w.points[i+1:], w.points[i:])
	w.points[i] = p
}

// Prune forgets the points before t.
func (w *Window) Prune(t time.Time) {
	i := sort.Search(len(w.points), func(i int) bool { return !w.points[i].Time.Before(t) })
	if i > 0 {
		w.points = append(w.points[:0], w.points[i:]...)
	}
}

// Len is how many points the window holds.
func (w *Window) Len() int { return len(w.points) }

// Span is how far back an alarm looks: its window times its periods.
func Span(a storage.Alarm) time.Duration {
	return time.Duration(a.Window*a.EvaluationPeriods) * time.Second
}

// aggregate folds values as the alarm's aggregation says.
func aggregate(agg string, ps []Point) float64 {
	switch agg {
	case "count":
		return float64(len(ps))
	case "last":
		return ps[len(ps)-1].Value
	}
	sum, lo, hi := 0.0, math.Inf(1), math.Inf(-1)
	for _, p := range ps {
		sum += p.Value
		lo, hi = min(lo, p.Value), max(hi, p.Value)
	}
	switch agg {
	case "sum":
		return sum
	case "min":
		return lo
	case "max":
		return hi
	}
	return sum / float64(len(ps))
}

func breaches(cmp string, v, threshold float64) bool {
	switch cmp {
	case "gt":
		return v > threshold
	case "ge":
		return v >= threshold
	case "lt":
		return v < threshold
	case "le":
		return v <= threshold
	}
	return false
}

var symbols = map[string]string{"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
var opposites = map[string]string{"gt": "<=", "ge": "<", "lt": ">=", "le": ">"}

// Verdict is what an evaluation finds.
type Verdict struct {
	State  string
	Reason string
	Value  *float64 // the latest period's aggregate, when there is one
}

// Evaluate judges the alarm at now from the window: each of its
// evaluation_periods periods (window seconds each, the latest ending at
// now) folded with its aggregation. Every period beyond the threshold is
// alarm; none, ok; a period without a point, insufficient_data; a mix keeps
// the current state (the trend is not clear).
func Evaluate(a storage.Alarm, w *Window, now time.Time, current string) Verdict {
	j := judgeWindow(a, w, now, current)
	return j.verdict(a, current)
}

// judgement is an evaluation before its reason is written (most
// evaluations change nothing and need none).
type judgement struct {
	state    string
	value    float64
	hasValue bool
	breached int
	emptyEnd time.Time // the end of the period without a point
}

func judgeWindow(a storage.Alarm, w *Window, now time.Time, current string) judgement {
	win := time.Duration(a.Window) * time.Second
	j := judgement{}
	for k := 0; k < a.EvaluationPeriods; k++ {
		end := now.Add(-time.Duration(k) * win)
		start := end.Add(-win)
		lo := sort.Search(len(w.points), func(i int) bool { return w.points[i].Time.After(start) })
		hi := sort.Search(len(w.points), func(i int) bool { return w.points[i].Time.After(end) })
		if lo >= hi {
			j.state, j.emptyEnd = storage.AlarmInsufficientData, end
			return j
		}
		v := aggregate(a.Aggregation, w.points[lo:hi])
		if k == 0 {
			j.value, j.hasValue = v, true
		}
		if breaches(a.Comparison, v, a.Threshold) {
			j.breached++
		}
	}
	switch j.breached {
	case a.EvaluationPeriods:
		j.state = storage.AlarmAlarm
	case 0:
		j.state = storage.AlarmOK
	default:
		j.state = current
	}
	return j
}

func (j judgement) verdict(a storage.Alarm, current string) Verdict {
	v := Verdict{State: j.state}
	if j.hasValue {
		x := j.value
		v.Value = &x
	}
	if !j.emptyEnd.IsZero() {
		v.Reason = fmt.Sprintf("No %s data in the %d s up to %s.", a.Metric, a.Window, j.emptyEnd.UTC().Format(time.RFC3339))
		return v
	}
	periods := "the last period"
	if a.EvaluationPeriods > 1 {
		periods = fmt.Sprintf("each of the last %d periods", a.EvaluationPeriods)
	}
	switch j.breached {
	case a.EvaluationPeriods:
		v.Reason = fmt.Sprintf("%s %s %s %g over %s of %d s (latest %g).",
			a.Metric, a.Aggregation, symbols[a.Comparison], a.Threshold, periods, a.Window, j.value)
	case 0:
		v.Reason = fmt.Sprintf("%s %s %s %g over %s of %d s (latest %g).",
			a.Metric, a.Aggregation, opposites[a.Comparison], a.Threshold, periods, a.Window, j.value)
	default:
		v.Reason = fmt.Sprintf("%d of %d periods beyond the threshold: the state stays %s.", j.breached, a.EvaluationPeriods, current)
	}
	return v
}
