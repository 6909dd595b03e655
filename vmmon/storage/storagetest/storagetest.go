// Package storagetest is the conformance suite every storage driver passes:
// the same calls, the same answers, against the embedded driver in unit tests
// and against a real Cassandra in functional tests.
package storagetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// Opener returns a store for one test. Tests use ids of their own, so a
// driver may hand every test the same (initially empty) store.
type Opener func(t *testing.T) storage.Store

// Run runs the suite.
func Run(t *testing.T, open Opener) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, storage.Store)
	}{
		{"RawMeasuresAndIdempotence", testRaw},
		{"Rollups", testRollups},
		{"InvalidQueries", testInvalid},
		{"MetricsAndLatest", testMetrics},
		{"Instances", testInstances},
		{"InstancePages", testInstancePages},
		{"InstanceFilters", testInstanceFilters},
		{"Aggregates", testAggregates},
		{"Events", testEvents},
		{"Hosts", testHosts},
		{"Actions", testActions},
		{"Alarms", testAlarms},
		{"AlarmLeases", testAlarmLeases},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

var (
	ctx  = context.Background()
	base = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
)

func inst(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// series writes n points of metric every step from base with value f(i).
func series(id, metric, device string, n int, step time.Duration, f func(i int) float64) []storage.Sample {
	var out []storage.Sample
	for i := 0; i < n; i++ {
		out = append(out, storage.Sample{InstanceID: id, Metric: metric, Device: device, Time: base.Add(time.Duration(i) * step),
			Value: f(i), Unit: "B/s", Kind: "rate", ProjectID: "p1", Host: "h1"})
	}
	return out
}

// Write stores samples, 500 at a time, then processes every pending rollup.
func Write(t testing.TB, s storage.Store, samples []storage.Sample) {
	t.Helper()
	for i := 0; i < len(samples); i += 500 {
		end := min(i+500, len(samples))
		if err := s.WriteSamples(ctx, samples[i:end]); err != nil {
			t.Fatal(err)
		}
	}
	ProcessAll(t, s)
}

// ProcessAll processes pending rollups until none is left and returns how
// many buckets it processed.
func ProcessAll(t testing.TB, s storage.Store) int {
	t.Helper()
	total := 0
	for {
		n, err := s.ProcessRollups(ctx, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
}

func measures(t *testing.T, s storage.Store, q storage.MeasureQuery) []storage.Series {
	t.Helper()
	out, err := s.Measures(ctx, q)
	if err != nil {
		t.Fatalf("%+v: %v", q, err)
	}
	return out
}

func testRaw(t *testing.T, s storage.Store) {
	id := inst(1)
	pts := series(id, "disk.device.read.bytes.rate", "vda", 30, 10*time.Second, func(i int) float64 { return float64(i) * 1.5 })
	pts = append(pts, series(id, "disk.device.read.bytes.rate", "vdb", 30, 10*time.Second, func(i int) float64 { return 7 })...)
	Write(t, s, pts)
	Write(t, s, pts[:10]) // redelivered: changes nothing
	q := storage.MeasureQuery{InstanceID: id, Metric: "disk.device.read.bytes.rate", Device: "vda",
		Start: base.Add(20 * time.Second), End: base.Add(100 * time.Second), Granularity: storage.Raw}
	got := measures(t, s, q)
	if len(got) != 1 || got[0].Device != "vda" || got[0].Unit != "B/s" || len(got[0].Points) != 8 {
		t.Fatalf("raw vda = %+v", got)
	}
	for j, p := range got[0].Points {
		i := j + 2
		if !p.Time.Equal(base.Add(time.Duration(i)*10*time.Second)) || p.Value != float64(i)*1.5 {
			t.Errorf("point %d = %+v", j, p)
		}
	}
	// Times are kept to the millisecond.
	fine := base.Add(5*time.Hour + 123456789*time.Nanosecond)
	Write(t, s, []storage.Sample{{InstanceID: id, Metric: "precise", Time: fine, Value: 1, Unit: "x", Kind: "gauge"}})
	p := measures(t, s, storage.MeasureQuery{InstanceID: id, Metric: "precise", Start: base, End: base.Add(6 * time.Hour)})
	if len(p[0].Points) != 1 || !p[0].Points[0].Time.Equal(fine.Truncate(time.Millisecond)) {
		t.Errorf("a nanosecond time read back as %+v; want %v", p[0].Points, fine.Truncate(time.Millisecond))
	}
	q.AllDevices, q.Device = true, ""
	all := measures(t, s, q)
	storage.SortSeries(all)
	if len(all) != 2 || all[1].Device != "vdb" || len(all[1].Points) != 8 || all[1].Points[0].Value != 7 {
		t.Errorf("per-device series = %+v", all)
	}
}

func testRollups(t *testing.T, s storage.Store) {
	id := inst(2)
	// Two hours of a point every 10 s: value i.
	Write(t, s, series(id, "cpu_util", "", 720, 10*time.Second, func(i int) float64 { return float64(i) }))
	q := storage.MeasureQuery{InstanceID: id, Metric: "cpu_util", Start: base, End: base.Add(2 * time.Hour), Granularity: time.Minute}
	cases := []struct {
		gran   time.Duration
		agg    string
		n      int
		first  float64
		second float64
	}{
		// Minute 0 holds i = 0..5, minute 1 holds 6..11.
		{time.Minute, "mean", 120, 2.5, 8.5},
		{time.Minute, "min", 120, 0, 6},
		{time.Minute, "max", 120, 5, 11},
		{time.Minute, "sum", 120, 15, 51},
		{time.Minute, "count", 120, 6, 6},
		{time.Minute, "last", 120, 5, 11},
		// 5 minutes hold 30 points: 0..29, then 30..59.
		{5 * time.Minute, "mean", 24, 14.5, 44.5},
		// An hour holds 360 points: 0..359, then 360..719.
		{time.Hour, "mean", 2, 179.5, 539.5},
		{time.Hour, "max", 2, 359, 719},
		{2 * time.Hour, "count", 1, 720, math.NaN()},
	}
	for _, c := range cases {
		q.Granularity, q.Aggregation = c.gran, c.agg
		got := measures(t, s, q)
		if len(got) != 1 || len(got[0].Points) != c.n {
			t.Errorf("%v %s: %d series, points %v", c.gran, c.agg, len(got), got)
			continue
		}
		p := got[0].Points
		if !p[0].Time.Equal(base) || p[0].Value != c.first || (c.n > 1 && p[1].Value != c.second) {
			t.Errorf("%v %s: first points %+v; want %v then %v", c.gran, c.agg, p[:min(2, len(p))], c.first, c.second)
		}
	}
	// A range with no point gives an empty list, not a missing one.
	q.Start, q.End = base.Add(-48*time.Hour), base.Add(-47*time.Hour)
	if got := measures(t, s, q); len(got) != 1 || got[0].Points == nil || len(got[0].Points) != 0 {
		t.Errorf("empty range: %+v", got)
	}
	q.Start, q.End = base, base.Add(2*time.Hour)
	// A range not aligned on the granularity starts with the bucket it falls in.
	q.Granularity, q.Aggregation = time.Minute, "mean"
	q.Start, q.End = base.Add(90*time.Second), base.Add(4*time.Minute)
	got := measures(t, s, q)
	if len(got[0].Points) != 3 || !got[0].Points[0].Time.Equal(base.Add(time.Minute)) {
		t.Errorf("unaligned range: %+v", got[0].Points)
	}
	// A late point (spooled during an outage) updates its rollups.
	Write(t, s, []storage.Sample{{InstanceID: id, Metric: "cpu_util", Time: base.Add(5 * time.Second), Value: 100, Unit: "%", Kind: "rate"}})
	q.Start, q.End, q.Aggregation = base, base.Add(time.Minute), "max"
	if got := measures(t, s, q); got[0].Points[0].Value != 100 {
		t.Errorf("rollup after a late point: %+v", got[0].Points)
	}
	q.Granularity, q.End = time.Hour, base.Add(time.Hour)
	if got := measures(t, s, q); got[0].Points[0].Value != 359 || got[0].Points[0].Value == 0 {
		t.Errorf("hour max after a late point of 100: %+v (want 359)", got[0].Points)
	}
	q.Aggregation = "count"
	if got := measures(t, s, q); got[0].Points[0].Value != 361 {
		t.Errorf("hour count after a late point: %+v (want 361)", got[0].Points)
	}
}

func testInvalid(t *testing.T, s storage.Store) {
	id := inst(3)
	Write(t, s, series(id, "cpu_util", "", 3, 10*time.Second, func(int) float64 { return 1 }))
	good := storage.MeasureQuery{InstanceID: id, Metric: "cpu_util", Start: base, End: base.Add(time.Hour), Granularity: time.Minute, MaxPoints: 1000}
	cases := map[string]func(q *storage.MeasureQuery){
		"unknown metric":      func(q *storage.MeasureQuery) { q.Metric = "cpu.bogus" },
		"unknown device":      func(q *storage.MeasureQuery) { q.Device = "vdz" },
		"end before start":    func(q *storage.MeasureQuery) { q.End = q.Start.Add(-time.Second) },
		"granularity 90 s":    func(q *storage.MeasureQuery) { q.Granularity = 90 * time.Second },
		"too many points":     func(q *storage.MeasureQuery) { q.End = q.Start.Add(30 * 24 * time.Hour) },
		"unknown aggregation": func(q *storage.MeasureQuery) { q.Aggregation = "median" },
	}
	for name, mod := range cases {
		q := good
		mod(&q)
		_, err := s.Measures(ctx, q)
		var ie *storage.InvalidError
		if !errors.Is(err, storage.ErrInvalid) || !errors.As(err, &ie) || ie.Param == "" || ie.Detail == "" {
			t.Errorf("%s: err = %v; want an InvalidError", name, err)
		}
	}
	if _, err := s.Measures(ctx, good); err != nil {
		t.Errorf("the valid query: %v", err)
	}
}

func testMetrics(t *testing.T, s storage.Store) {
	id := inst(4)
	Write(t, s, series(id, "cpu_util", "", 5, 10*time.Second, func(i int) float64 { return float64(i) }))
	Write(t, s, series(id, "network.incoming.bytes", "tap0", 2, 10*time.Second, func(i int) float64 { return 100 + float64(i) }))
	// An older sample arriving late does not replace the latest value.
	Write(t, s, []storage.Sample{{InstanceID: id, Metric: "cpu_util", Time: base, Value: 42, Unit: "%", Kind: "rate"}})
	got, err := s.Metrics(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "cpu_util" || got[0].LastValue != 4 || !got[0].LastTime.Equal(base.Add(40*time.Second)) ||
		got[1].Device != "tap0" || got[1].LastValue != 101 || got[1].Kind != "rate" {
		t.Errorf("metrics = %+v", got)
	}
	if none, err := s.Metrics(ctx, inst(99)); err != nil || len(none) != 0 {
		t.Errorf("metrics of an unknown instance = %v, %v", none, err)
	}
}

func tp(t time.Time) *time.Time { return &t }

func testInstances(t *testing.T, s storage.Store) {
	for i := 0; i < 25; i++ {
		in := storage.Instance{ID: inst(100 + i), ProjectID: fmt.Sprintf("p%d", i%2), Name: fmt.Sprintf("vm%d", i),
			Host: fmt.Sprintf("h%d", i%3), State: "active", FlavorName: "m1.tiny", FlavorVCPUs: 1, IPs: []string{"10.0.0.1"},
			CreatedAt: tp(base), UpdatedAt: base}
		if i%5 == 0 {
			in.State = "stopped"
		}
		if err := s.PutInstance(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	// Newer information wins; older is ignored whatever the order of arrival.
	newer := storage.Instance{ID: inst(100), ProjectID: "p0", Host: "h9", State: "active", UpdatedAt: base.Add(time.Minute)}
	older := storage.Instance{ID: inst(100), ProjectID: "p0", Host: "h0", State: "deleted", UpdatedAt: base.Add(30 * time.Second)}
	for _, in := range []storage.Instance{newer, older} {
		if err := s.PutInstance(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetInstance(ctx, inst(100))
	if err != nil || got.Host != "h9" || got.State != "active" {
		t.Errorf("instance after newer and older updates = %+v, %v", got, err)
	}
	if _, err := s.GetInstance(ctx, inst(999)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("unknown instance: %v", err)
	}
	one, _ := s.GetInstance(ctx, inst(101))
	if !reflect.DeepEqual(one.IPs, []string{"10.0.0.1"}) || one.CreatedAt == nil || !one.CreatedAt.Equal(base) || one.FlavorVCPUs != 1 {
		t.Errorf("round trip = %+v", one)
	}
	// Paging through one project with a filter.
	var ids []string
	marker := ""
	for page := 0; page < 10; page++ {
		list, err := s.ListInstances(ctx, storage.InstanceQuery{ProjectID: "p1", Limit: 4, Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range list {
			ids = append(ids, in.ID)
			if in.ProjectID != "p1" {
				t.Errorf("project filter let %+v through", in)
			}
		}
		if len(list) < 4 {
			break
		}
		marker = list[len(list)-1].ID
	}
	if len(ids) != 12 || ids[0] != inst(101) || ids[11] != inst(123) {
		t.Errorf("paged ids = %v", ids)
	}
	byHost, _ := s.ListInstances(ctx, storage.InstanceQuery{Host: "h1"})
	stopped, _ := s.ListInstances(ctx, storage.InstanceQuery{State: "stopped"})
	all, _ := s.ListInstances(ctx, storage.InstanceQuery{})
	if len(byHost) != 8 || len(stopped) != 4 || len(all) != 25 {
		t.Errorf("host h1: %d, stopped: %d, all: %d; want 8, 4, 25", len(byHost), len(stopped), len(all))
	}
}

// Paging through many instances, with any page size, gives each once, in id
// order, with or without filters.
func testInstancePages(t *testing.T, s storage.Store) {
	var wg sync.WaitGroup
	errs := make(chan error, 600)
	for i := 0; i < 600; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			state := "active"
			if i%3 == 0 {
				state = "paused"
			}
			errs <- s.PutInstance(ctx, storage.Instance{ID: inst(10000 + i*7), ProjectID: fmt.Sprintf("pages-%d", i%2),
				Host: fmt.Sprintf("pages-h%d", i%5), State: state, UpdatedAt: base})
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	pages := func(q storage.InstanceQuery) []string {
		t.Helper()
		var ids []string
		for n := 0; ; n++ {
			list, err := s.ListInstances(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range list {
				ids = append(ids, in.ID)
			}
			if len(list) < q.Limit || q.Limit == 0 || n > 1000 {
				return ids
			}
			q.Marker = list[len(list)-1].ID
		}
	}
	for _, q := range []storage.InstanceQuery{{}, {ProjectID: "pages-1"}, {Host: "pages-h3"}, {State: "paused"}, {ProjectID: "pages-0", State: "paused"}} {
		whole := pages(q)
		if len(whole) == 0 || !sort.StringsAreSorted(whole) {
			t.Fatalf("%+v: %d instances, sorted: %v", q, len(whole), sort.StringsAreSorted(whole))
		}
		for _, limit := range []int{13, 100, 250, 1000} {
			q.Limit = limit
			if got := pages(q); !reflect.DeepEqual(got, whole) {
				t.Errorf("%+v in pages of %d: %d instances, want the %d of one listing", q, limit, len(got), len(whole))
			}
		}
	}
	if all := pages(storage.InstanceQuery{ProjectID: "pages-1"}); len(all) != 300 {
		t.Errorf("project pages-1 has %d instances, want 300", len(all))
	}
}

func testEvents(t *testing.T, s storage.Store) {
	id := inst(5)
	for i := 0; i < 10; i++ {
		e := storage.Event{InstanceID: id, ID: fmt.Sprintf("msg-%d", i), Time: base.Add(time.Duration(i) * time.Minute),
			Source: "nova", Type: "instance.update", RequestID: "req-1"}
		if err := s.AddEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
		if err := s.AddEvent(ctx, e); err != nil { // redelivered
			t.Fatal(err)
		}
	}
	all, err := s.Events(ctx, storage.EventQuery{InstanceID: id})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 10 || all[0].ID != "msg-9" || all[9].ID != "msg-0" || all[0].RequestID != "req-1" {
		t.Errorf("events = %+v", all)
	}
	some, _ := s.Events(ctx, storage.EventQuery{InstanceID: id, Start: base.Add(2 * time.Minute), End: base.Add(5 * time.Minute), Limit: 2})
	if len(some) != 2 || some[0].ID != "msg-4" || some[1].ID != "msg-3" {
		t.Errorf("events in range = %+v", some)
	}
	if other, _ := s.Events(ctx, storage.EventQuery{InstanceID: inst(6)}); len(other) != 0 {
		t.Errorf("another instance's events: %+v", other)
	}
}

func testHosts(t *testing.T, s storage.Store) {
	for _, h := range []storage.Host{{Name: "h2", LastHeartbeat: base.Add(time.Minute), Interval: 10, Heartbeat: `{"n":2}`},
		{Name: "h1", LastHeartbeat: base, Interval: 10}, {Name: "h2", LastHeartbeat: base, Interval: 5, Heartbeat: `{"n":1}`}} {
		if err := s.PutHeartbeat(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	// Stream s1: batches 1..5 and 8 (6 and 7 lost), 3 again (redelivered),
	// out of order; then the agent restarts with stream s2.
	for i, seq := range []uint64{1, 2, 4, 3, 5, 8, 3} {
		if err := s.RecordBatch(ctx, "h2", "s1", seq, base.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	h, err := s.GetHost(ctx, "h2")
	if err != nil || h.Stream != "s1" || h.LastSeq != 8 || h.SeqGaps != 2 || !h.LastHeartbeat.Equal(base.Add(time.Minute)) ||
		h.Interval != 10 || h.Heartbeat != `{"n":2}` {
		t.Errorf("host = %+v, %v; want stream s1, last seq 8, 2 gaps, the newer heartbeat", h, err)
	}
	for _, seq := range []uint64{1, 2} {
		if err := s.RecordBatch(ctx, "h2", "s2", seq, base.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if h, _ := s.GetHost(ctx, "h2"); h.Stream != "s2" || h.LastSeq != 2 || h.SeqGaps != 0 {
		t.Errorf("after a restart: %+v", h)
	}
	all, _ := s.ListHosts(ctx)
	if len(all) != 2 || all[0].Name != "h1" && all[1].Name != "h1" {
		t.Errorf("hosts = %+v", all)
	}
	if _, err := s.GetHost(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("unknown host: %v", err)
	}
	testClockSkew(t, s)
}

// testClockSkew: a host's clock skew is stored with its heartbeat, and goes
// with it (a newer heartbeat within the limit clears it, an older one
// changes nothing).
func testClockSkew(t *testing.T, s storage.Store) {
	at := base.Add(2 * time.Hour)
	for _, c := range []struct {
		h    storage.Host
		want float64
	}{
		{storage.Host{Name: "skewed", LastHeartbeat: at, Interval: 10, Heartbeat: `{"host":"skewed","n":1}`, ClockSkew: 300.25}, 300.25},
		{storage.Host{Name: "skewed", LastHeartbeat: at.Add(-time.Minute), Interval: 10, Heartbeat: `{"n":0}`}, 300.25},
		{storage.Host{Name: "skewed", LastHeartbeat: at.Add(time.Minute), Interval: 10, Heartbeat: `{"n":2}`, ClockSkew: -42.5}, -42.5},
		{storage.Host{Name: "skewed", LastHeartbeat: at.Add(2 * time.Minute), Interval: 10, Heartbeat: `{}`, ClockSkew: 31}, 31},
		{storage.Host{Name: "skewed", LastHeartbeat: at.Add(3 * time.Minute), Interval: 10, Heartbeat: `{"n":3}`}, 0},
	} {
		if err := s.PutHeartbeat(ctx, c.h); err != nil {
			t.Fatal(err)
		}
		h, err := s.GetHost(ctx, "skewed")
		if err != nil || h.ClockSkew != c.want {
			t.Errorf("after a heartbeat at %s with skew %v: skew %v (%v); want %v", c.h.LastHeartbeat.Format(time.TimeOnly),
				c.h.ClockSkew, h.ClockSkew, err, c.want)
		}
		if c.want == 300.25 && h.Heartbeat != `{"host":"skewed","n":1}` {
			t.Errorf("heartbeat read back as %s", h.Heartbeat)
		}
	}
	all, _ := s.ListHosts(ctx)
	for _, h := range all {
		if h.Name == "skewed" && (h.ClockSkew != 0 || h.Heartbeat != `{"n":3}`) {
			t.Errorf("listed: %+v", h)
		}
	}
}

func testActions(t *testing.T, s storage.Store) {
	id := inst(7)
	a := storage.Action{ID: "a1", InstanceID: id, ProjectID: "p1", UserID: "u1", Action: "reboot", Params: `{"type":"SOFT"}`,
		Status: "pending", RequestID: "req-a1", IdempotencyKey: "key-1", CreatedAt: base, UpdatedAt: base}
	if _, err := s.PutAction(ctx, a); err != nil {
		t.Fatal(err)
	}
	dup := a
	dup.ID = "a2"
	stored, err := s.PutAction(ctx, dup)
	if !errors.Is(err, storage.ErrConflict) || stored.ID != "a1" {
		t.Errorf("same idempotency key: %+v, %v; want a1 and ErrConflict", stored, err)
	}
	b := storage.Action{ID: "b1", InstanceID: id, Action: "stop", Status: "pending", RequestID: "req-b1", CreatedAt: base.Add(time.Second)}
	if _, err := s.PutAction(ctx, b); err != nil {
		t.Fatal(err)
	}
	a.Status, a.NovaRequestID, a.UpdatedAt = "succeeded", "req-nova", base.Add(time.Minute)
	if err := s.UpdateAction(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := s.ActionByRequestID(ctx, "req-a1")
	if err != nil || got.Status != "succeeded" || got.NovaRequestID != "req-nova" {
		t.Errorf("by request id: %+v, %v", got, err)
	}
	// Nova's request id recorded after the end notification keeps the status.
	if err := s.SetNovaRequestID(ctx, id, "a1", "req-nova-2"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetAction(ctx, id, "a1"); got.Status != "succeeded" || got.NovaRequestID != "req-nova-2" {
		t.Errorf("after SetNovaRequestID: %+v", got)
	}
	if err := s.SetNovaRequestID(ctx, id, "zz", "x"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("SetNovaRequestID of an unknown action: %v", err)
	}
	list, _ := s.ListActions(ctx, id)
	if len(list) != 2 || list[0].ID != "a1" || list[1].ID != "b1" {
		t.Errorf("actions = %+v", list)
	}
	if _, err := s.GetAction(ctx, id, "zz"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("unknown action: %v", err)
	}
	if err := s.UpdateAction(ctx, storage.Action{ID: "zz", InstanceID: id}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("updating an unknown action: %v", err)
	}
}
