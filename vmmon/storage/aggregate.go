package storage

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"time"
)

// Fleet views fold the series of many instances into one value, or one
// series, per group: per instance, per host or per project.
//
// A group is folded from its members' minute rollups. A member is one series
// (a metric of an instance on one device) in one minute, counted in the
// project and on the host the instance had then (the samples' pairing). Each
// minute of a group is kept in three forms, so that every aggregation reads
// one of them:
//
//	points  the members' rollups merged: min, max, last and count of all
//	        their points;
//	sums    one value a minute, the sum of the members' means ("sum": the
//	        total of the group, such as a host's CPU);
//	means   the members' means as values ("mean": their mean; the count of
//	        member-minutes).
//
// Over a longer bucket or a window, sum is the mean of the minute sums and
// mean the mean of all member-minute means; a group covers as many series
// as it has member-minutes per minute, on average.

// Groupings of an AggregateQuery.
const (
	GroupByInstance = "instance"
	GroupByHost     = "host"
	GroupByProject  = "project"
)

// LatestWindow is how recent a group's data must be for a query of latest
// values to show it: groups without data folded in that time are left out.
const LatestWindow = 10 * time.Minute

// MaxMemberMinutes bounds what a query folds on read (member series times
// minutes): beyond it the query asks to be narrowed.
const MaxMemberMinutes = 300_000

// AggregateQuery asks for one metric folded per group of instances.
type AggregateQuery struct {
	Metric      string
	Aggregation string // mean (default), min, max, sum, last, count
	GroupBy     string // instance (default), host, project
	// Filters, as on instance listings.
	ProjectID, Host, State, Flavor string
	// Start and End bound the window. Both zero asks for the latest values:
	// each group's latest folded minute (see LatestWindow).
	Start, End time.Time
	// Granularity, when set, asks for a series per group in buckets of that
	// width (a multiple of a minute); a window is then required.
	Granularity time.Duration
	// Ascending sorts by value from the lowest (default: from the highest).
	Ascending bool
	Limit     int
	Marker    string // the key of the last group of the previous page
	// Retention bounds the window to what the resolution read keeps.
	Retention Retention
	// Now is the time of the query (default time.Now).
	Now time.Time
}

// Aggregate is one group's value (and series).
type Aggregate struct {
	// What the group is: an instance (its id, name, project and host), a
	// host or a project.
	InstanceID string
	Name       string
	ProjectID  string
	Host       string
	Value      float64
	Series     int // how many series the group covers
	Unit       string
	// Minute is, for latest values, the minute the value is from.
	Minute time.Time
	Points []Point // with a granularity
}

// Key returns what names the group under q's grouping.
func (a Aggregate) Key(groupBy string) string {
	switch groupBy {
	case GroupByHost:
		return a.Host
	case GroupByProject:
		return a.ProjectID
	}
	return a.InstanceID
}

// Latest reports whether the query asks for latest values.
func (q *AggregateQuery) Latest() bool { return q.Start.IsZero() && q.End.IsZero() }

// Validate checks the query and fills its defaults; it returns the stored
// resolution a window reads (Minute or Hour).
func (q *AggregateQuery) Validate() (time.Duration, error) {
	if q.Metric == "" {
		return 0, invalid("metric", "a metric name is required")
	}
	if q.Aggregation == "" {
		q.Aggregation = "mean"
	}
	if q.GroupBy == "" {
		q.GroupBy = GroupByInstance
	}
	if q.Now.IsZero() {
		q.Now = time.Now()
	}
	switch q.GroupBy {
	case GroupByInstance, GroupByHost, GroupByProject:
	default:
		return 0, invalid("group_by", "%q is not one of instance, host, project", q.GroupBy)
	}
	if q.Latest() {
		if q.Granularity != 0 {
			return 0, invalid("start", "a series needs start (and end)")
		}
		m := MeasureQuery{Metric: q.Metric, Aggregation: q.Aggregation, Start: q.Now, End: q.Now.Add(time.Minute), Granularity: Minute}
		_, err := m.Validate()
		return Minute, err
	}
	g := q.Granularity
	if g == 0 {
		// One value: hour rollups when the window falls on hours.
		g = Minute
		if q.Start.Truncate(Hour).Equal(q.Start) && q.End.Truncate(Hour).Equal(q.End) {
			g = Hour
		}
	}
	if g < Minute || g%Minute != 0 {
		return 0, invalid("granularity", "%v is not supported: use seconds as a multiple of 60", q.Granularity)
	}
	m := MeasureQuery{Metric: q.Metric, Aggregation: q.Aggregation, Start: q.Start, End: q.End, Granularity: g, Retention: q.Retention}
	return m.Validate()
}

// GroupRollup is a group's minute, or the minutes of a longer bucket, in
// the three forms a group keeps (see the package's fleet views).
type GroupRollup struct {
	Points, Sums, Means Agg
}

// Merge folds another bucket of the same group into this one.
func (g *GroupRollup) Merge(o GroupRollup) {
	g.Points.Merge(o.Points)
	g.Sums.Merge(o.Sums)
	g.Means.Merge(o.Means)
}

// Value returns the aggregation asked for.
func (g GroupRollup) Value(aggregation string) float64 {
	switch aggregation {
	case "mean":
		return g.Means.Value("mean")
	case "sum":
		return g.Sums.Value("mean")
	}
	return g.Points.Value(aggregation)
}

// Series returns how many series the group covers: member-minutes per
// minute, rounded.
func (g GroupRollup) Series() int {
	if g.Sums.Count == 0 {
		return 0
	}
	return int(math.Round(float64(g.Means.Count) / float64(g.Sums.Count)))
}

// Member is one series in one minute, as part of groups.
type Member struct {
	InstanceID, Device string
	ProjectID, Host    string // the instance's, at the time
	Minute             time.Time
	Agg                Agg
}

// ID names the member's series within a minute: its order when folded.
func (m Member) ID() string { return m.InstanceID + "\x00" + m.Device }

// FoldMinute folds the members of one group's minute, in ID order.
func FoldMinute(minute time.Time, members []Member) GroupRollup {
	var g GroupRollup
	sum := 0.0
	for _, m := range members {
		if m.Agg.Count == 0 {
			continue
		}
		g.Points.Merge(m.Agg)
		mean := m.Agg.Sum / float64(m.Agg.Count)
		g.Means.Add(minute, mean)
		sum += mean
	}
	if g.Means.Count > 0 {
		g.Sums.Add(minute, sum)
	}
	return g
}

// GroupBucket is a group's rollup at the start of its bucket.
type GroupBucket struct {
	Time   time.Time
	Rollup GroupRollup
}

// RegroupGroup re-aggregates a group's buckets (sorted by time) into buckets
// of granularity g between start (inclusive) and end (exclusive), as
// Regroup does for one series; it also returns the whole range merged.
func RegroupGroup(buckets []GroupBucket, g time.Duration, aggregation string, start, end time.Time) ([]Point, GroupRollup) {
	var total GroupRollup
	points := regroup(buckets, g, start, end,
		func(b GroupBucket) time.Time { return b.Time },
		func(acc *GroupRollup, b GroupBucket) { acc.Merge(b.Rollup); total.Merge(b.Rollup) },
		func(acc GroupRollup) (float64, bool) { return acc.Value(aggregation), acc.Sums.Count > 0 })
	return points, total
}

// Summarise returns a group's aggregate from its buckets: the value over
// the query's window (or its latest minute), and the series with a
// granularity.
func (q *AggregateQuery) Summarise(group Aggregate, buckets []GroupBucket) (Aggregate, bool) {
	var total GroupRollup
	switch {
	case q.Latest():
		if len(buckets) == 0 {
			return group, false
		}
		last := buckets[len(buckets)-1]
		group.Minute, total = last.Time, last.Rollup
	case q.Granularity > 0:
		group.Points, total = RegroupGroup(buckets, q.Granularity, q.Aggregation, q.Start, q.End)
	default:
		for _, b := range buckets {
			if !b.Time.Before(q.Start.Truncate(Minute)) && b.Time.Before(q.End) {
				total.Merge(b.Rollup)
			}
		}
	}
	if total.Sums.Count == 0 {
		return group, false
	}
	group.Value, group.Series = total.Value(q.Aggregation), total.Series()
	return group, true
}

// Fold folds members into the query's groups: for each group, its members
// minute by minute (in time, then ID order), then the minutes within the
// window (Summarise). For latest values the caller passes each group's
// latest minute only.
func (q *AggregateQuery) Fold(members []Member) []Aggregate {
	keyOf := func(m *Member) string {
		switch q.GroupBy {
		case GroupByHost:
			return m.Host
		case GroupByProject:
			return m.ProjectID
		}
		return m.InstanceID
	}
	inOrder := func(a, b *Member) bool {
		switch {
		case !a.Minute.Equal(b.Minute):
			return a.Minute.Before(b.Minute)
		case a.InstanceID != b.InstanceID:
			return a.InstanceID < b.InstanceID
		}
		return a.Device < b.Device
	}
	// Members of one group's row come in order (by group, then minute and
	// member): then they need no sort.
	grouped := true
	for i := 1; i < len(members) && grouped; i++ {
		if k, prev := keyOf(&members[i]), keyOf(&members[i-1]); k == prev {
			grouped = inOrder(&members[i-1], &members[i])
		} else {
			grouped = prev < k
		}
	}
	sorted := members
	if !grouped {
		type keyed struct {
			key string
			m   *Member
		}
		ks := make([]keyed, len(members))
		for i := range members {
			ks[i] = keyed{keyOf(&members[i]), &members[i]}
		}
		sort.Slice(ks, func(i, j int) bool {
			if ks[i].key != ks[j].key {
				return ks[i].key < ks[j].key
			}
			return inOrder(ks[i].m, ks[j].m)
		})
		sorted = make([]Member, len(ks))
		for i, k := range ks {
			sorted[i] = *k.m
		}
	}
	groups := 0
	for i := range sorted {
		if i == 0 || keyOf(&sorted[i]) != keyOf(&sorted[i-1]) {
			groups++
		}
	}
	var (
		out     = make([]Aggregate, 0, groups)
		buckets []GroupBucket
	)
	for i := 0; i < len(sorted); {
		j := i
		for j < len(sorted) && keyOf(&sorted[j]) == keyOf(&sorted[i]) {
			j++
		}
		buckets = buckets[:0]
		for k := i; k < j; {
			l := k
			for l < j && sorted[l].Minute.Equal(sorted[k].Minute) {
				l++
			}
			buckets = append(buckets, GroupBucket{Time: sorted[k].Minute, Rollup: FoldMinute(sorted[k].Minute, sorted[k:l])})
			k = l
		}
		// The group as its latest member had it.
		last := &sorted[j-1]
		group := Aggregate{InstanceID: last.InstanceID, ProjectID: last.ProjectID, Host: last.Host}
		switch q.GroupBy {
		case GroupByHost:
			group = Aggregate{Host: last.Host}
		case GroupByProject:
			group = Aggregate{ProjectID: last.ProjectID}
		}
		if a, ok := q.Summarise(group, buckets); ok {
			out = append(out, a)
		}
		i = j
	}
	return out
}

// Page sorts aggregates by value (then by key) and returns the page after
// the marker, of at most Limit groups.
func (q *AggregateQuery) Page(all []Aggregate) ([]Aggregate, error) {
	before := func(a, b *Aggregate) bool {
		if a.Value != b.Value {
			return (a.Value < b.Value) == q.Ascending
		}
		return a.Key(q.GroupBy) < b.Key(q.GroupBy)
	}
	// Sorted by index (aggregates are large to move); the first page only,
	// when that is all there is to return.
	order := make([]int, len(all))
	for i := range order {
		order[i] = i
	}
	if n := q.Limit; q.Marker == "" && n > 0 && n < len(all)/4 {
		order = topN(order, n, func(i, j int) bool { return before(&all[i], &all[j]) })
	} else {
		sort.Slice(order, func(i, j int) bool { return before(&all[order[i]], &all[order[j]]) })
	}
	sorted := make([]Aggregate, len(order))
	for i, k := range order {
		sorted[i] = all[k]
	}
	all = sorted
	if q.Marker != "" {
		at := -1
		for i, a := range all {
			if a.Key(q.GroupBy) == q.Marker {
				at = i
				break
			}
		}
		if at < 0 {
			return nil, invalid("marker", "%q is not a group of this query (any more): start again without a marker", q.Marker)
		}
		all = all[at+1:]
	}
	if q.Limit > 0 && len(all) > q.Limit {
		all = all[:q.Limit]
	}
	return all, nil
}

// topN returns the n first of items in the order less gives, sorted:
// a bounded max-heap of the n best seen so far.
func topN(items []int, n int, less func(a, b int) bool) []int {
	h := make([]int, 0, n)
	down := func(i int) {
		for {
			worst, l, r := i, 2*i+1, 2*i+2
			if l < len(h) && less(h[worst], h[l]) {
				worst = l
			}
			if r < len(h) && less(h[worst], h[r]) {
				worst = r
			}
			if worst == i {
				return
			}
			h[i], h[worst] = h[worst], h[i]
			i = worst
		}
	}
	for _, it := range items {
		switch {
		case len(h) < n:
			h = append(h, it)
			for i := len(h) - 1; i > 0 && less(h[(i-1)/2], h[i]); i = (i - 1) / 2 {
				h[i], h[(i-1)/2] = h[(i-1)/2], h[i]
			}
		case less(it, h[0]):
			h[0] = it
			down(0)
		}
	}
	sort.Slice(h, func(i, j int) bool { return less(h[i], h[j]) })
	return h
}

// PageInstances pages aggregates of group_by=instance: with a state or
// flavor filter, every candidate's instance is read and filtered first;
// then the page's instances give their names. load returns the instances of
// some ids (those it knows).
func (q *AggregateQuery) PageInstances(all []Aggregate, load func(ids []string) (map[string]Instance, error)) ([]Aggregate, error) {
	ids := func(as []Aggregate) []string {
		out := make([]string, len(as))
		for i, a := range as {
			out[i] = a.InstanceID
		}
		return out
	}
	var insts map[string]Instance
	if q.State != "" || q.Flavor != "" {
		var (
			keep func(id string) bool
			err  error
		)
		if insts, keep, err = q.instanceFilter(ids(all), load); err != nil {
			return nil, err
		}
		kept := make([]Aggregate, 0, len(all))
		for _, a := range all {
			if keep(a.InstanceID) {
				kept = append(kept, a)
			}
		}
		all = kept
	}
	page, err := q.Page(all)
	if err != nil {
		return nil, err
	}
	if insts == nil {
		if insts, err = load(ids(page)); err != nil {
			return nil, err
		}
	}
	for i := range page {
		page[i].Name = insts[page[i].InstanceID].Name
	}
	return page, nil
}

// FilterMembers keeps the members whose instance passes the query's state
// and flavor filters (all of them without such filters).
func (q *AggregateQuery) FilterMembers(members []Member, load func(ids []string) (map[string]Instance, error)) ([]Member, error) {
	if q.State == "" && q.Flavor == "" {
		return members, nil
	}
	seen := map[string]bool{}
	var ids []string
	for _, m := range members {
		if !seen[m.InstanceID] {
			seen[m.InstanceID] = true
			ids = append(ids, m.InstanceID)
		}
	}
	_, keep, err := q.instanceFilter(ids, load)
	if err != nil {
		return nil, err
	}
	out := members[:0]
	for _, m := range members {
		if keep(m.InstanceID) {
			out = append(out, m)
		}
	}
	return out, nil
}

// instanceFilter loads the instances of ids and returns them with whether
// an id's instance passes the query's state and flavor filters.
func (q *AggregateQuery) instanceFilter(ids []string, load func(ids []string) (map[string]Instance, error)) (map[string]Instance, func(string) bool, error) {
	insts, err := load(ids)
	if err != nil {
		return nil, nil, err
	}
	filter := InstanceQuery{State: q.State, Flavor: q.Flavor}
	return insts, func(id string) bool {
		inst, ok := insts[id]
		return ok && filter.Match(inst)
	}, nil
}

// CheckMemberMinutes fails when a fold on read would go past
// MaxMemberMinutes.
func CheckMemberMinutes(n int) error {
	if n > MaxMemberMinutes {
		return invalid("start", "the query folds more than %d series-minutes: narrow start and end, filter by project or host, "+
			"or group by host or project without other filters", MaxMemberMinutes)
	}
	return nil
}

// AggSize is the length of an Agg in binary (AppendAgg).
const AggSize = 6 * 8

// AppendAgg appends a rollup in binary: min, max, sum, last (IEEE 754),
// count and the last point's time in nanoseconds, big endian.
func AppendAgg(dst []byte, a Agg) []byte {
	for _, v := range []float64{a.Min, a.Max, a.Sum, a.Last} {
		dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(v))
	}
	dst = binary.BigEndian.AppendUint64(dst, uint64(a.Count))
	return binary.BigEndian.AppendUint64(dst, uint64(a.LastTime.UnixNano()))
}

// ReadAgg reads what AppendAgg wrote.
func ReadAgg(b []byte) (Agg, error) {
	if len(b) < AggSize {
		return Agg{}, fmt.Errorf("a rollup of %d bytes: want %d", len(b), AggSize)
	}
	u := func(i int) uint64 { return binary.BigEndian.Uint64(b[i*8:]) }
	return Agg{Min: math.Float64frombits(u(0)), Max: math.Float64frombits(u(1)), Sum: math.Float64frombits(u(2)),
		Last: math.Float64frombits(u(3)), Count: int64(u(4)), LastTime: time.Unix(0, int64(u(5))).UTC()}, nil
}
