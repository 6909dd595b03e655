package storagetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// The fleet: six instances over two projects and two hosts, reporting
// cpu_util for ten minutes from aggStart. Instance k's points in minute m
// are 10k+m, 10k+m+1 and 10k+m+2 (mean 10k+m+1), at 0, 20 and 40 s past the
// minute plus k seconds. Instance 1 also has a disk rate on two devices.
//
//	k  project  host    state    flavor
//	1  agg-p1   agg-h1  active   small
//	2  agg-p1   agg-h1  active   large
//	3  agg-p1   agg-h2  stopped  small
//	4  agg-p2   agg-h1  active   small
//	5  agg-p2   agg-h2  active   large
//	6  agg-p2   agg-h2  active   large
var aggStart = base.Add(24 * time.Hour)

type fleetVM struct {
	k                            int
	project, host, state, flavor string
}

var fleet = []fleetVM{
	{1, "agg-p1", "agg-h1", "active", "small"},
	{2, "agg-p1", "agg-h1", "active", "large"},
	{3, "agg-p1", "agg-h2", "stopped", "small"},
	{4, "agg-p2", "agg-h1", "active", "small"},
	{5, "agg-p2", "agg-h2", "active", "large"},
	{6, "agg-p2", "agg-h2", "active", "large"},
}

func aggInst(k int) string { return inst(20000 + k) }

func writeFleet(t *testing.T, s storage.Store) {
	var samples []storage.Sample
	for _, vm := range fleet {
		in := storage.Instance{ID: aggInst(vm.k), ProjectID: vm.project, Host: vm.host, Name: fmt.Sprintf("agg-vm-%d", vm.k),
			State: vm.state, FlavorName: vm.flavor, UpdatedAt: aggStart}
		if err := s.PutInstance(ctx, in); err != nil {
			t.Fatal(err)
		}
		for m := 0; m < 10; m++ {
			for j := 0; j < 3; j++ {
				at := aggStart.Add(time.Duration(m)*time.Minute + time.Duration(j*20+vm.k)*time.Second)
				samples = append(samples, storage.Sample{InstanceID: aggInst(vm.k), Metric: "cpu_util", Time: at,
					Value: float64(10*vm.k + m + j), Unit: "%", Kind: "rate", ProjectID: vm.project, Host: vm.host})
				if vm.k == 1 {
					for d, dev := range []string{"vda", "vdb"} {
						samples = append(samples, storage.Sample{InstanceID: aggInst(1), Metric: "disk.device.read.bytes.rate", Device: dev,
							Time: at, Value: float64(100 * (d + 1)), Unit: "B/s", Kind: "rate", ProjectID: vm.project, Host: vm.host})
					}
				}
			}
		}
	}
	Write(t, s, samples)
}

func aggregates(t *testing.T, s storage.Store, q storage.AggregateQuery) []storage.Aggregate {
	t.Helper()
	out, err := s.Aggregates(ctx, q)
	if err != nil {
		t.Fatalf("%+v: %v", q, err)
	}
	return out
}

// brief writes aggregates as key=value (series) in their order.
func brief(groupBy string, as []storage.Aggregate) string {
	var b strings.Builder
	for i, a := range as {
		if i > 0 {
			b.WriteString(" ")
		}
		key := a.Key(groupBy)
		if groupBy == storage.GroupByInstance {
			key = strings.TrimPrefix(a.Name, "agg-")
		}
		fmt.Fprintf(&b, "%s=%s(%d)", key, strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", a.Value), "0"), "."), a.Series)
	}
	return b.String()
}

// only keeps the aggregates of this suite's fleet (a driver may hand the
// suite a store other tests also write).
func only(as []storage.Aggregate) []storage.Aggregate {
	var out []storage.Aggregate
	for _, a := range as {
		if strings.HasPrefix(a.ProjectID, "agg-") || strings.HasPrefix(a.Host, "agg-") {
			out = append(out, a)
		}
	}
	return out
}

func testAggregates(t *testing.T, s storage.Store) {
	writeFleet(t, s)
	window := storage.AggregateQuery{Metric: "cpu_util", Start: aggStart, End: aggStart.Add(10 * time.Minute)}
	cases := []struct {
		name string
		q    storage.AggregateQuery
		want string
	}{
		// Latest values: minute 9, where instance k's mean is 10k+10.
		{"top instances of a project", storage.AggregateQuery{Metric: "cpu_util", ProjectID: "agg-p1"}, "vm-3=40(1) vm-2=30(1) vm-1=20(1)"},
		{"lowest first, two", storage.AggregateQuery{Metric: "cpu_util", ProjectID: "agg-p1", Ascending: true, Limit: 2}, "vm-1=20(1) vm-2=30(1)"},
		{"after a marker", storage.AggregateQuery{Metric: "cpu_util", ProjectID: "agg-p1", Marker: aggInst(2)}, "vm-1=20(1)"},
		{"on a host", storage.AggregateQuery{Metric: "cpu_util", Host: "agg-h2", Aggregation: "max"}, "vm-6=71(1) vm-5=61(1) vm-3=41(1)"},
		{"on a host, of a project", storage.AggregateQuery{Metric: "cpu_util", Host: "agg-h1", ProjectID: "agg-p2"}, "vm-4=50(1)"},
		{"by state", storage.AggregateQuery{Metric: "cpu_util", ProjectID: "agg-p1", State: "active"}, "vm-2=30(1) vm-1=20(1)"},
		{"by flavor", storage.AggregateQuery{Metric: "cpu_util", ProjectID: "agg-p2", Flavor: "large", Limit: 1}, "vm-6=70(1)"},
		{"devices", storage.AggregateQuery{Metric: "disk.device.read.bytes.rate", ProjectID: "agg-p1", Aggregation: "sum"}, "vm-1=300(2)"},
		{"hosts, sum", storage.AggregateQuery{Metric: "cpu_util", GroupBy: storage.GroupByHost, Aggregation: "sum"}, "agg-h2=170(3) agg-h1=100(3)"},
		{"hosts within a project", storage.AggregateQuery{Metric: "cpu_util", GroupBy: storage.GroupByHost, ProjectID: "agg-p1", Aggregation: "sum"},
			"agg-h1=50(2) agg-h2=40(1)"},
		{"projects, count", storage.AggregateQuery{Metric: "cpu_util", GroupBy: storage.GroupByProject, Aggregation: "count"}, "agg-p1=9(3) agg-p2=9(3)"},
		{"projects on a host, mean", storage.AggregateQuery{Metric: "cpu_util", GroupBy: storage.GroupByProject, Host: "agg-h2"}, "agg-p2=65(2) agg-p1=40(1)"},
		{"projects, active, min", storage.AggregateQuery{Metric: "cpu_util", GroupBy: storage.GroupByProject, State: "active", Aggregation: "min", Ascending: true},
			"agg-p1=19(2) agg-p2=49(3)"},
		// The window: instance k's minute m has mean 10k+m+1; on agg-h1
		// (1, 2, 4) minute m sums to 73+3m.
		{"hosts over the window, sum", with(window, storage.GroupByHost, "sum"), "agg-h2=156.5(3) agg-h1=86.5(3)"},
		{"hosts over the window, max", with(window, storage.GroupByHost, "max"), "agg-h2=71(3) agg-h1=51(3)"},
		{"hosts over the window, last", with(window, storage.GroupByHost, "last"), "agg-h2=71(3) agg-h1=51(3)"},
		{"hosts over the window, count", with(window, storage.GroupByHost, "count"), "agg-h1=90(3) agg-h2=90(3)"},
		{"projects over the window, mean", with(window, storage.GroupByProject, "mean"), "agg-p2=55.5(3) agg-p1=25.5(3)"},
		{"instances over the window", withFilter(with(window, storage.GroupByInstance, "mean"), "agg-p2", ""), "vm-6=65.5(1) vm-5=55.5(1) vm-4=45.5(1)"},
		{"hosts of a project over the window", withFilter(with(window, storage.GroupByHost, "sum"), "agg-p1", ""), "agg-h1=41(2) agg-h2=35.5(1)"},
		{"one host over the window, by flavor", withFlavor(withFilter(with(window, storage.GroupByHost, "sum"), "", "agg-h2"), "large"),
			"agg-h2=121(2)"},
		{"an hour's rollups", withEnd(with(window, storage.GroupByProject, "sum"), aggStart.Add(time.Hour)), "agg-p2=166.5(3) agg-p1=76.5(3)"},
	}
	for _, c := range cases {
		got := aggregates(t, s, c.q)
		if c.q.ProjectID == "" && c.q.Host == "" {
			got = only(got)
		}
		groupBy := c.q.GroupBy
		if groupBy == "" {
			groupBy = storage.GroupByInstance
		}
		if b := brief(groupBy, got); b != c.want {
			t.Errorf("%s: %s; want %s", c.name, b, c.want)
		}
		for _, a := range got {
			if a.Unit == "" || (c.q.Start.IsZero() && !a.Minute.Equal(aggStart.Add(9*time.Minute))) || a.Points != nil {
				t.Errorf("%s: %+v: want a unit, the minute of latest values, no points", c.name, a)
			}
			if groupBy == storage.GroupByInstance && (a.ProjectID == "" || a.Host == "" || a.Name == "") {
				t.Errorf("%s: an instance's aggregate without its project, host or name: %+v", c.name, a)
			}
		}
	}
	testAggregateSeries(t, s)
	testAggregateLatePoint(t, s)
	testAggregateInvalid(t, s)
}

func with(q storage.AggregateQuery, groupBy, aggregation string) storage.AggregateQuery {
	q.GroupBy, q.Aggregation = groupBy, aggregation
	return q
}

func withFilter(q storage.AggregateQuery, project, host string) storage.AggregateQuery {
	q.ProjectID, q.Host = project, host
	return q
}

func withFlavor(q storage.AggregateQuery, flavor string) storage.AggregateQuery {
	q.Flavor = flavor
	return q
}

func withEnd(q storage.AggregateQuery, end time.Time) storage.AggregateQuery {
	q.End = end
	return q
}

// Series of groups: a host's sum per 5 minutes and per minute, its own and
// folded from a project's members.
func testAggregateSeries(t *testing.T, s storage.Store) {
	q := storage.AggregateQuery{Metric: "cpu_util", GroupBy: storage.GroupByHost, Aggregation: "sum", Host: "agg-h1",
		Start: aggStart, End: aggStart.Add(10 * time.Minute), Granularity: 5 * time.Minute}
	got := aggregates(t, s, q)
	if len(got) != 1 || len(got[0].Points) != 2 || got[0].Points[0].Value != 79 || got[0].Points[1].Value != 94 ||
		!got[0].Points[1].Time.Equal(aggStart.Add(5*time.Minute)) || got[0].Value != 86.5 {
		t.Errorf("agg-h1 per 5 minutes: %+v; want 79 then 94, 86.5 in all", got)
	}
	q.Granularity = time.Minute
	got = aggregates(t, s, q)
	if len(got) != 1 || len(got[0].Points) != 10 || got[0].Points[9].Value != 100 {
		t.Errorf("agg-h1 per minute: %+v; want 10 points, the last 100", got)
	}
	q.ProjectID, q.Host, q.Start = "agg-p1", "", aggStart.Add(90*time.Second)
	got = aggregates(t, s, q)
	if b := brief(storage.GroupByHost, got); b != "agg-h1=42(2) agg-h2=36(1)" || len(got[0].Points) != 9 ||
		!got[0].Points[0].Time.Equal(aggStart.Add(time.Minute)) || got[0].Points[0].Value != 34 {
		t.Errorf("hosts of agg-p1 per minute from 1.5 minutes in: %s, %+v", b, got)
	}
	q = storage.AggregateQuery{Metric: "no.such.metric", GroupBy: storage.GroupByHost, Start: aggStart, End: aggStart.Add(time.Hour), Granularity: time.Minute}
	if got := aggregates(t, s, q); len(got) != 0 {
		t.Errorf("a metric nobody has: %+v", got)
	}
}

// A late point recomputes its minute, and the minute of its groups: it
// replaces the member it changes rather than adding one.
func testAggregateLatePoint(t *testing.T, s storage.Store) {
	Write(t, s, []storage.Sample{{InstanceID: aggInst(1), Metric: "cpu_util", Time: aggStart.Add(50 * time.Second), Value: 100, Unit: "%",
		Kind: "rate", ProjectID: "agg-p1", Host: "agg-h1"}})
	for _, c := range []struct {
		q     storage.AggregateQuery
		count float64
	}{
		{storage.AggregateQuery{Metric: "cpu_util", GroupBy: storage.GroupByHost, Host: "agg-h1", Start: aggStart, End: aggStart.Add(10 * time.Minute)}, 91},
		{storage.AggregateQuery{Metric: "cpu_util", GroupBy: storage.GroupByHost, ProjectID: "agg-p1", Host: "agg-h1", Start: aggStart,
			End: aggStart.Add(10 * time.Minute)}, 61},
	} {
		q := c.q
		for agg, want := range map[string]float64{"max": 100, "count": c.count} {
			q.Aggregation = agg
			if got := aggregates(t, s, q); len(got) != 1 || got[0].Value != want {
				t.Errorf("%s of agg-h1 (project %q) after a late point: %+v; want %v", agg, q.ProjectID, got, want)
			}
		}
	}
}

func testAggregateInvalid(t *testing.T, s storage.Store) {
	good := storage.AggregateQuery{Metric: "cpu_util", Start: aggStart, End: aggStart.Add(time.Hour), Granularity: time.Minute}
	for name, mod := range map[string]func(q *storage.AggregateQuery){
		"no metric":             func(q *storage.AggregateQuery) { q.Metric = "" },
		"unknown grouping":      func(q *storage.AggregateQuery) { q.GroupBy = "flavor" },
		"unknown aggregation":   func(q *storage.AggregateQuery) { q.Aggregation = "median" },
		"granularity 90 s":      func(q *storage.AggregateQuery) { q.Granularity = 90 * time.Second },
		"end before start":      func(q *storage.AggregateQuery) { q.End = q.Start.Add(-time.Minute) },
		"series without window": func(q *storage.AggregateQuery) { q.Start, q.End = time.Time{}, time.Time{} },
		"marker not a group":    func(q *storage.AggregateQuery) { q.Marker = "nope"; q.ProjectID = "agg-p1" },
		"beyond retention": func(q *storage.AggregateQuery) {
			q.Retention, q.Start = storage.DefaultRetention, q.End.Add(-40*24*time.Hour)
		},
	} {
		q := good
		mod(&q)
		_, err := s.Aggregates(ctx, q)
		var ie *storage.InvalidError
		if !errors.Is(err, storage.ErrInvalid) || !errors.As(err, &ie) || ie.Param == "" {
			t.Errorf("%s: %v; want an InvalidError", name, err)
		}
	}
}

// Listings filter by name (a substring, whatever the case), flavor, time
// of the last change and deletion.
func testInstanceFilters(t *testing.T, s storage.Store) {
	deletedAt := base.Add(time.Hour)
	for i, in := range []storage.Instance{
		{Name: "Web-1", FlavorName: "small", UpdatedAt: base},
		{Name: "web-2", FlavorName: "large", UpdatedAt: base.Add(time.Hour)},
		{Name: "db-1", FlavorName: "large", UpdatedAt: base.Add(2 * time.Hour)},
		{Name: "old-web", FlavorName: "small", UpdatedAt: base.Add(3 * time.Hour), Deleted: true, State: "deleted", DeletedAt: &deletedAt},
	} {
		in.ID, in.ProjectID = inst(30000+i), "filters-p"
		if err := s.PutInstance(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		q    storage.InstanceQuery
		want string
	}{
		{storage.InstanceQuery{}, "Web-1 web-2 db-1 old-web"},
		{storage.InstanceQuery{Deleted: storage.HideDeleted}, "Web-1 web-2 db-1"},
		{storage.InstanceQuery{Deleted: storage.OnlyDeleted}, "old-web"},
		{storage.InstanceQuery{NameContains: "WEB", Deleted: storage.HideDeleted}, "Web-1 web-2"},
		{storage.InstanceQuery{Flavor: "large"}, "web-2 db-1"},
		{storage.InstanceQuery{ChangesSince: base.Add(time.Hour)}, "web-2 db-1 old-web"},
		{storage.InstanceQuery{NameContains: "web", Flavor: "small", Limit: 1}, "Web-1"},
	} {
		c.q.ProjectID = "filters-p"
		list, err := s.ListInstances(ctx, c.q)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, in := range list {
			names = append(names, in.Name)
		}
		if got := strings.Join(names, " "); got != c.want {
			t.Errorf("%+v: %s; want %s", c.q, got, c.want)
		}
	}
}
