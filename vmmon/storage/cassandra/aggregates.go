package cassandra

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// Aggregates answers a fleet view (see groups.go for what is stored):
//
//   - latest values: the folded members of each group's latest minute, one
//     row per group read;
//   - a window grouped by host or project, filtered at most by that host or
//     project: the groups' own series, as packed as an instance's;
//   - any other window (grouped by instance, or by host within a project,
//     or filtered by state or flavor): the members over the window, folded
//     on read, at most storage.MaxMemberMinutes of them, and only as far
//     back as members are kept (raw points' retention and a day).
func (s *Store) Aggregates(ctx context.Context, q storage.AggregateQuery) ([]storage.Aggregate, error) {
	if q.Now.IsZero() {
		q.Now = s.now()
	}
	base, err := q.Validate()
	if err != nil {
		return nil, err
	}
	var (
		all  []storage.Aggregate
		unit string
	)
	err = runAll(ctx, 2, []func(context.Context) error{
		func(ctx context.Context) (err error) {
			switch {
			case q.Latest():
				var folded []storage.Aggregate
				folded, err = s.latest.get(ctx, q, s.now(), func(ctx context.Context) ([]storage.Aggregate, error) { return s.latestAggregates(ctx, q) })
				all = slices.Clone(folded) // the cache's fold is shared: this request's copy is its own
			case ownSeries(q):
				all, err = s.groupSeriesAggregates(ctx, q, base)
			default:
				all, err = s.foldedAggregates(ctx, q)
			}
			return err
		},
		func(ctx context.Context) (err error) {
			unit, err = s.unitOf(ctx, q.Metric)
			return err
		},
	})
	if err != nil {
		return nil, err
	}
	for i := range all {
		all[i].Unit = unit
	}
	if q.GroupBy == storage.GroupByInstance {
		return q.PageInstances(all, func(ids []string) (map[string]storage.Instance, error) { return s.instancesByID(ctx, ids) })
	}
	return q.Page(all)
}

// ownSeries reports whether a window query reads the groups' own series:
// grouped by host or project, with no filter but that host or project.
func ownSeries(q storage.AggregateQuery) bool {
	if q.State != "" || q.Flavor != "" {
		return false
	}
	return (q.GroupBy == storage.GroupByHost && q.ProjectID == "") || (q.GroupBy == storage.GroupByProject && q.Host == "")
}

// scopeGroups returns the groups whose members a query reads: the project
// or host it filters on, else every group of the kind it groups by
// (projects when grouping by instance).
func (s *Store) scopeGroups(ctx context.Context, q storage.AggregateQuery) ([]string, error) {
	switch {
	case q.ProjectID != "":
		return []string{projectGroup + q.ProjectID}, nil
	case q.Host != "":
		return []string{hostGroup + q.Host}, nil
	case q.GroupBy == storage.GroupByHost:
		return s.groupNames(ctx, hostGroup, q.Metric)
	}
	return s.groupNames(ctx, projectGroup, q.Metric)
}

// groupNames lists the groups of a kind that have (had, within the hour
// rollups' retention) a metric.
func (s *Store) groupNames(ctx context.Context, kind, metric string) ([]string, error) {
	iter := s.session.Query(`SELECT name FROM `+s.t("group_names")+` WHERE kind = ? AND metric = ?`, kind[:len(kind)-1], metric).
		WithContext(ctx).PageSize(5000).Iter()
	var (
		out  []string
		name string
	)
	for iter.Scan(&name) {
		out = append(out, kind+name)
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("listing the groups of %s: %w", metric, err)
	}
	return out, nil
}

// inScope keeps the members that pass the query's project and host filters.
func inScope(q storage.AggregateQuery, members []storage.Member) []storage.Member {
	out := members[:0]
	for _, m := range members {
		if (q.ProjectID == "" || m.ProjectID == q.ProjectID) && (q.Host == "" || m.Host == q.Host) {
			out = append(out, m)
		}
	}
	return out
}

// eachGroup runs read for every group (or batch of groups) at once, 16 at
// a time, and returns what they read, together.
func eachGroup[G, T any](ctx context.Context, groups []G, read func(ctx context.Context, grp G) ([]T, error)) ([]T, error) {
	var (
		mu  sync.Mutex
		out []T
		fns = make([]func(context.Context) error, len(groups))
	)
	for i, grp := range groups {
		fns[i] = func(ctx context.Context) error {
			got, err := read(ctx, grp)
			mu.Lock()
			out = append(out, got...)
			mu.Unlock()
			return err
		}
	}
	return out, runAll(ctx, 16, fns)
}

// latestAggregates folds the members of each group's latest minute.
func (s *Store) latestAggregates(ctx context.Context, q storage.AggregateQuery) ([]storage.Aggregate, error) {
	groups, err := s.scopeGroups(ctx, q)
	if err != nil {
		return nil, err
	}
	// A query for up to 100 groups: their latest rows at once.
	var batches [][]string
	for i := 0; i < len(groups); i += 100 {
		batches = append(batches, groups[i:min(i+100, len(groups))])
	}
	type latest struct {
		grp    string
		minute time.Time
		blob   []byte
	}
	rows, err := eachGroup(ctx, batches, func(ctx context.Context, some []string) ([]latest, error) {
		iter := s.session.Query(`SELECT grp, minute, v FROM `+s.t("group_latest")+` WHERE grp IN ? AND metric = ? PER PARTITION LIMIT 1`,
			some, q.Metric).WithContext(ctx).Iter()
		var (
			out []latest
			row latest
		)
		for iter.Scan(&row.grp, &row.minute, &row.blob) {
			out = append(out, row)
			row.blob = nil
		}
		if err := iter.Close(); err != nil {
			return nil, fmt.Errorf("reading the latest members of groups: %w", err)
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	// Each row's members are folded on their own: every group of the answer
	// has its members in one row (an instance in its project's, or in its
	// host's when filtered by host; Nova does not move an instance to
	// another project), which keeps them in order.
	perRow := make([][]storage.Member, len(rows))
	var ids []string
	for i, r := range rows {
		ms, err := decodeMembers(make([]storage.Member, 0, len(r.blob)/(storage.AggSize+40)), r.grp, r.minute, r.blob)
		if err != nil {
			return nil, fmt.Errorf("group %s at %s: %w", r.grp, r.minute.UTC().Format(time.RFC3339), err)
		}
		perRow[i] = inScope(q, ms)
		for _, m := range perRow[i] {
			ids = append(ids, m.InstanceID)
		}
	}
	var insts map[string]storage.Instance
	if q.State != "" || q.Flavor != "" {
		if insts, err = s.instancesByID(ctx, ids); err != nil {
			return nil, err
		}
	}
	all := make([]storage.Aggregate, 0, len(ids))
	for _, ms := range perRow {
		ms, err := q.FilterMembers(ms, func([]string) (map[string]storage.Instance, error) { return insts, nil })
		if err != nil {
			return nil, err
		}
		all = append(all, q.Fold(ms)...)
	}
	return all, nil
}

// foldedAggregates folds the members of the scope's groups over the window.
func (s *Store) foldedAggregates(ctx context.Context, q storage.AggregateQuery) ([]storage.Aggregate, error) {
	if kept := s.cfg.Retention.Raw + 24*time.Hour; q.Start.Before(q.Now.Add(-kept)) {
		return nil, &storage.InvalidError{Param: "start", Detail: fmt.Sprintf("grouped by instance, or filtered by state, flavor or "+
			"another project or host than the groups', a window reaches back only %.0f days: narrow it, or group by host or project alone",
			kept.Hours()/24)}
	}
	groups, err := s.scopeGroups(ctx, q)
	if err != nil {
		return nil, err
	}
	start := q.Start.Truncate(time.Minute)
	if q.Granularity > 0 {
		start = q.Start.Truncate(q.Granularity)
	}
	var read atomic.Int64
	members, err := eachGroup(ctx, groups, func(ctx context.Context, grp string) ([]storage.Member, error) {
		return s.readMembers(ctx, grp, q.Metric, start, q.End, &read)
	})
	if err != nil {
		return nil, err
	}
	return s.fold(ctx, q, inScope(q, members))
}

// fold filters members by state and flavor, then folds them.
func (s *Store) fold(ctx context.Context, q storage.AggregateQuery, members []storage.Member) ([]storage.Aggregate, error) {
	members, err := q.FilterMembers(members, func(ids []string) (map[string]storage.Instance, error) { return s.instancesByID(ctx, ids) })
	if err != nil {
		return nil, err
	}
	return q.Fold(members), nil
}

// groupSeriesAggregates reads the groups' own series over the window: sums
// and means always (they count the series), points for min, max, last and
// count.
func (s *Store) groupSeriesAggregates(ctx context.Context, q storage.AggregateQuery, base time.Duration) ([]storage.Aggregate, error) {
	var groups []string
	switch {
	case q.GroupBy == storage.GroupByHost && q.Host != "":
		groups = []string{hostGroup + q.Host}
	case q.GroupBy == storage.GroupByProject && q.ProjectID != "":
		groups = []string{projectGroup + q.ProjectID}
	default:
		var err error
		kind := projectGroup
		if q.GroupBy == storage.GroupByHost {
			kind = hostGroup
		}
		if groups, err = s.groupNames(ctx, kind, q.Metric); err != nil {
			return nil, err
		}
	}
	p := minutesPacked
	if base == storage.Hour {
		p = hoursPacked
	}
	start := q.Start
	if q.Granularity > 0 {
		start = q.Start.Truncate(q.Granularity)
	}
	forms := []string{formSums, formMeans}
	if q.Aggregation != "mean" && q.Aggregation != "sum" {
		forms = append(forms, formPoints)
	}
	return eachGroup(ctx, groups, func(ctx context.Context, grp string) ([]storage.Aggregate, error) {
		byTime := map[time.Time]*storage.GroupRollup{}
		var mu sync.Mutex
		fns := make([]func(context.Context) error, len(forms))
		for i, form := range forms {
			fns[i] = func(ctx context.Context) error {
				buckets, err := s.readPacked(ctx, p, grp, q.Metric, form, start, q.End)
				mu.Lock()
				defer mu.Unlock()
				for _, b := range buckets {
					r := byTime[b.Time]
					if r == nil {
						r = &storage.GroupRollup{}
						byTime[b.Time] = r
					}
					switch form {
					case formPoints:
						r.Points = b.Agg
					case formSums:
						r.Sums = b.Agg
					default:
						r.Means = b.Agg
					}
				}
				return err
			}
		}
		if err := runAll(ctx, len(fns), fns); err != nil {
			return nil, err
		}
		buckets := make([]storage.GroupBucket, 0, len(byTime))
		for t, r := range byTime {
			buckets = append(buckets, storage.GroupBucket{Time: t, Rollup: *r})
		}
		sort.Slice(buckets, func(i, j int) bool { return buckets[i].Time.Before(buckets[j].Time) })
		group := storage.Aggregate{Host: strings.TrimPrefix(grp, hostGroup)}
		if q.GroupBy == storage.GroupByProject {
			group = storage.Aggregate{ProjectID: strings.TrimPrefix(grp, projectGroup)}
		}
		if a, ok := q.Summarise(group, buckets); ok {
			return []storage.Aggregate{a}, nil
		}
		return nil, nil
	})
}

// unitOf returns a metric's unit ("" if unknown).
func (s *Store) unitOf(ctx context.Context, metric string) (string, error) {
	var unit string
	err := s.session.Query(`SELECT unit FROM `+s.t("metric_units")+` WHERE metric = ?`, metric).WithContext(ctx).Scan(&unit)
	if err != nil && !errors.Is(err, gocql.ErrNotFound) {
		return "", fmt.Errorf("reading the unit of %s: %w", metric, err)
	}
	return unit, nil
}
