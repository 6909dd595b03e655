package storage

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Validate checks a measures query and returns the stored resolution it reads
// (Raw, Minute or Hour).
func (q *MeasureQuery) Validate() (time.Duration, error) {
	if q.Metric == "" {
		return 0, invalid("metric", "a metric name is required")
	}
	if q.Start.IsZero() || q.End.IsZero() {
		return 0, invalid("start", "start and end are required")
	}
	if !q.End.After(q.Start) {
		return 0, invalid("end", "end (%s) must be after start (%s)", q.End.UTC().Format(time.RFC3339), q.Start.UTC().Format(time.RFC3339))
	}
	if q.Aggregation == "" {
		q.Aggregation = "mean"
	}
	ok := false
	for _, a := range Aggregations {
		ok = ok || a == q.Aggregation
	}
	if !ok {
		return 0, invalid("aggregation", "%q is not one of mean, min, max, last, sum, count", q.Aggregation)
	}
	var base time.Duration
	switch {
	case q.Granularity == Raw:
		base = Raw
	case q.Granularity < 0:
		return 0, invalid("granularity", "must be positive")
	case q.Granularity%Hour == 0:
		base = Hour
	case q.Granularity%Minute == 0:
		base = Minute
	default:
		return 0, invalid("granularity", "%v is not supported: use raw (0), or a multiple of 60 seconds", q.Granularity)
	}
	if keep := q.Retention.Of(base); keep > 0 && q.End.Sub(q.Start) > keep+Hour {
		return 0, invalid("start", "the range spans %s, but %s are kept only %s: narrow start and end, or choose a coarser granularity",
			days(q.End.Sub(q.Start)), resolutionName(base), days(keep))
	}
	if q.MaxPoints > 0 {
		if n := q.pointsPerSeries(base); n > float64(q.MaxPoints) {
			return 0, invalid("granularity", "the range would return up to %.0f points, more than the limit of %d: "+
				"narrow the range or choose a coarser granularity", n, q.MaxPoints)
		}
	}
	return base, nil
}

// pointsPerSeries bounds how many points one series of the query returns.
func (q *MeasureQuery) pointsPerSeries(base time.Duration) float64 {
	span := q.End.Sub(q.Start)
	if base == Raw {
		// Agents sample every 10 s at the most often.
		return math.Ceil(span.Seconds() / 10)
	}
	return math.Ceil(float64(span) / float64(q.Granularity))
}

// Of returns how long the resolution base (Raw, Minute or Hour) is kept;
// 0 is unbounded.
func (r Retention) Of(base time.Duration) time.Duration {
	switch base {
	case Raw:
		return r.Raw
	case Minute:
		return r.Minute
	}
	return r.Hour
}

func resolutionName(base time.Duration) string {
	return map[time.Duration]string{Raw: "raw points", Minute: "one-minute rollups", Hour: "one-hour rollups"}[base]
}

func days(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%.0f days", d.Hours()/24)
	}
	return d.Round(time.Second).String()
}

// Select returns the series of all (an instance's metric infos) that the
// query asks for, or an InvalidError naming the metric or device it lacks.
func (q *MeasureQuery) Select(all []MetricInfo) ([]MetricInfo, error) {
	var infos []MetricInfo
	for _, info := range all {
		if info.Name == q.Metric && (q.AllDevices || info.Device == q.Device) {
			infos = append(infos, info)
		}
	}
	if len(infos) == 0 {
		if q.Device != "" {
			return nil, invalid("device", "instance %s has no metric %q on device %q", q.InstanceID, q.Metric, q.Device)
		}
		return nil, invalid("metric", "instance %s has no metric %q", q.InstanceID, q.Metric)
	}
	if base, err := q.Validate(); err == nil && q.MaxPoints > 0 && len(infos) > 1 {
		if n := q.pointsPerSeries(base) * float64(len(infos)); n > float64(q.MaxPoints) {
			return nil, invalid("granularity", "the range would return up to %.0f points over %d devices, more than the limit of %d: "+
				"narrow the range, choose a coarser granularity or one device", n, len(infos), q.MaxPoints)
		}
	}
	return infos, nil
}

// Agg is a rollup of points: enough to answer every aggregation.
type Agg struct {
	Min, Max, Sum float64
	Count         int64
	Last          float64
	LastTime      time.Time
}

// Add folds a point into the rollup.
func (a *Agg) Add(t time.Time, v float64) {
	if a.Count == 0 || v < a.Min {
		a.Min = v
	}
	if a.Count == 0 || v > a.Max {
		a.Max = v
	}
	a.Sum += v
	a.Count++
	if !t.Before(a.LastTime) {
		a.Last, a.LastTime = v, t
	}
}

// Merge folds another rollup into this one.
func (a *Agg) Merge(b Agg) {
	if b.Count == 0 {
		return
	}
	if a.Count == 0 || b.Min < a.Min {
		a.Min = b.Min
	}
	if a.Count == 0 || b.Max > a.Max {
		a.Max = b.Max
	}
	a.Sum += b.Sum
	a.Count += b.Count
	if !b.LastTime.Before(a.LastTime) {
		a.Last, a.LastTime = b.Last, b.LastTime
	}
}

// Value returns the aggregation asked for.
func (a Agg) Value(aggregation string) float64 {
	switch aggregation {
	case "min":
		return a.Min
	case "max":
		return a.Max
	case "sum":
		return a.Sum
	case "count":
		return float64(a.Count)
	case "last":
		return a.Last
	default:
		return a.Sum / float64(a.Count)
	}
}

// Bucket is a rollup at the start of its interval.
type Bucket struct {
	Time time.Time
	Agg  Agg
}

// Regroup re-aggregates stored buckets (sorted by time) into buckets of
// granularity g and returns the points of the aggregation asked for, between
// start (inclusive) and end (exclusive).
func Regroup(buckets []Bucket, g time.Duration, aggregation string, start, end time.Time) []Point {
	return regroup(buckets, g, start, end,
		func(b Bucket) time.Time { return b.Time },
		func(acc *Agg, b Bucket) { acc.Merge(b.Agg) },
		func(acc Agg) (float64, bool) { return acc.Value(aggregation), acc.Count > 0 })
}

// regroup merges buckets of type B (sorted by time) into accumulators of
// type A, one per bucket of granularity g between start and end, and returns
// the value of each that holds any.
func regroup[B, A any](buckets []B, g time.Duration, start, end time.Time,
	at func(B) time.Time, merge func(*A, B), value func(A) (float64, bool)) []Point {
	var (
		out  = []Point{} // never null in JSON
		cur  A
		curT time.Time
		have bool
	)
	flush := func() {
		if v, ok := value(cur); have && ok {
			out = append(out, Point{Time: curT, Value: v})
		}
	}
	for _, b := range buckets {
		if at(b).Before(start.Truncate(g)) || !at(b).Before(end) {
			continue
		}
		t := at(b).Truncate(g)
		if !have || !t.Equal(curT) {
			flush()
			var zero A
			cur, curT, have = zero, t, true
		}
		merge(&cur, b)
	}
	flush()
	return out
}

// SortSeries orders series by device.
func SortSeries(s []Series) {
	sort.Slice(s, func(i, j int) bool { return s[i].Device < s[j].Device })
}
