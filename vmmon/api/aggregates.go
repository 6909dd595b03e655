package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"opendev.org/openstack/vmmon/vmmon/policy"
	"opendev.org/openstack/vmmon/vmmon/storage"
)

// Fleet views: GET /v1/aggregates (one value per group) and
// GET /v1/aggregates/measures (one series per group). A project-scoped
// caller sees its project; every project, another project, grouping or
// filtering by host take the rules the instance listing takes.

// aggregateParams are the query parameters both fleet views accept.
var aggregateParams = []string{"metric", "aggregation", "group_by", "start", "end", "sort", "limit", "marker",
	"project_id", "all_projects", "host", "state", "flavor"}

// aggregateQuery reads and authorises a fleet view's query; the range and
// the limit are the caller's to fill.
func (s *Server) aggregateQuery(w http.ResponseWriter, r *http.Request, q url.Values) (storage.AggregateQuery, bool) {
	if !s.scopeOK(w, r, "vmmon:aggregate:get") {
		return storage.AggregateQuery{}, false
	}
	caller := callerOf(r)
	aq := storage.AggregateQuery{Metric: q.Get("metric"), Aggregation: q.Get("aggregation"), GroupBy: q.Get("group_by"),
		ProjectID: caller.ProjectID, Host: q.Get("host"), State: q.Get("state"), Flavor: q.Get("flavor"), Marker: q.Get("marker"),
		Retention: s.cfg.Retention, Now: s.cfg.Now().UTC()}
	if aq.Aggregation == "" {
		aq.Aggregation = "mean"
	}
	if aq.GroupBy == "" {
		aq.GroupBy = storage.GroupByInstance
	}
	if aq.Metric == "" {
		fail(w, r, http.StatusBadRequest, "vmmon.query.missing_metric", "metric is required: the metric to fold, such as cpu_util.")
		return aq, false
	}
	var ok bool
	if aq.ProjectID, ok = s.projectScope(w, r, q, "vmmon:instance:list:all_projects",
		"Only a cloud administrator or reader may fold the instances of other projects."); !ok {
		return aq, false
	}
	if !s.authorize(w, r, "vmmon:aggregate:get", policy.Target{"project_id": aq.ProjectID}, "") {
		return aq, false
	}
	if (aq.Host != "" || aq.GroupBy == storage.GroupByHost) && !s.authorize(w, r, "vmmon:instance:host", policy.Target{"project_id": aq.ProjectID},
		"Only a cloud administrator or reader may group or filter by host.") {
		return aq, false
	}
	switch v := q.Get("sort"); v {
	case "", "value", "value:desc":
	case "value:asc":
		aq.Ascending = true
	default:
		fail(w, r, http.StatusBadRequest, "vmmon.query.bad_sort", fmt.Sprintf("sort %q: expected value:desc (the default) or value:asc.", v))
		return aq, false
	}
	return aq, parseTimes(w, r, q, timeParam{"start", &aq.Start}, timeParam{"end", &aq.End})
}

// runAggregates asks storage, answering 400 for a query to change.
func (s *Server) runAggregates(w http.ResponseWriter, r *http.Request, aq storage.AggregateQuery) ([]storage.Aggregate, bool) {
	all, err := s.cfg.Store.Aggregates(r.Context(), aq)
	var ie *storage.InvalidError
	if errors.As(err, &ie) {
		fail(w, r, http.StatusBadRequest, "vmmon.aggregates.invalid", ie.Error())
		return nil, false
	}
	if err != nil {
		s.deadlineOrInternal(w, r, err)
		return nil, false
	}
	return all, true
}

// aggregateView shows a group as the caller may see it: an instance's host
// only to those the host rule allows, host_id to everyone.
func (s *Server) aggregateView(r *http.Request, groupBy string, a storage.Aggregate) aggregateView {
	v := aggregateView{Series: a.Series, Unit: a.Unit, Value: a.Value}
	if !a.Minute.IsZero() {
		minute := a.Minute
		v.Timestamp = &minute
	}
	switch groupBy {
	case storage.GroupByHost:
		v.Host = a.Host
	case storage.GroupByProject:
		v.ProjectID = a.ProjectID
	default:
		v.InstanceID, v.Name, v.ProjectID, v.HostID = a.InstanceID, a.Name, a.ProjectID, hostID(a.ProjectID, a.Host)
		if s.allowed(r, "vmmon:instance:host", policy.Target{"project_id": a.ProjectID}) {
			v.Host = a.Host
		}
	}
	return v
}

func lastKey(groupBy string, all []storage.Aggregate) string {
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1].Key(groupBy)
}

func (s *Server) aggregates(w http.ResponseWriter, r *http.Request) {
	q, ok := params(w, r, aggregateParams...)
	if !ok {
		return
	}
	aq, ok := s.aggregateQuery(w, r, q)
	if !ok {
		return
	}
	if aq.Start.IsZero() != aq.End.IsZero() {
		if !aq.Start.IsZero() {
			aq.End = aq.Now
		} else {
			fail(w, r, http.StatusBadRequest, "vmmon.query.bad_range", "end needs start: give both, start alone (until now), or neither (latest values).")
			return
		}
	}
	if aq.Limit, ok = parseLimit(w, r, q, s.cfg.MaxLimit); !ok {
		return
	}
	all, ok := s.runAggregates(w, r, aq)
	if !ok {
		return
	}
	out := aggregatesResponse{Aggregates: make([]aggregateView, 0, len(all)), Metric: aq.Metric, Aggregation: aq.Aggregation, GroupBy: aq.GroupBy}
	if !aq.Latest() {
		out.Start, out.End = &aq.Start, &aq.End
	}
	for _, a := range all {
		out.Aggregates = append(out.Aggregates, s.aggregateView(r, aq.GroupBy, a))
	}
	out.AggregatesLinks = pageLinks(r, q, lastKey(aq.GroupBy, all), aq.Limit, len(all))
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) aggregateMeasures(w http.ResponseWriter, r *http.Request) {
	q, ok := params(w, r, append(aggregateParams, "granularity")...)
	if !ok {
		return
	}
	aq, ok := s.aggregateQuery(w, r, q)
	if !ok {
		return
	}
	if aq.End.IsZero() {
		aq.End = aq.Now
	}
	if aq.Start.IsZero() {
		aq.Start = aq.End.Add(-time.Hour)
	}
	aq.Granularity = time.Minute
	if v := q.Get("granularity"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			fail(w, r, http.StatusBadRequest, "vmmon.query.bad_granularity",
				fmt.Sprintf("granularity %q: expected seconds as a multiple of 60 (60, 300, 3600, ...).", v))
			return
		}
		aq.Granularity = time.Duration(n) * time.Second
	}
	// As many groups to a page as [api] max_points allows, unless fewer
	// are asked for.
	perSeries := 1
	if aq.End.After(aq.Start) {
		perSeries = int((aq.End.Sub(aq.Start.Truncate(aq.Granularity)) + aq.Granularity - 1) / aq.Granularity)
	}
	most := max(1, min(s.cfg.MaxLimit, s.cfg.MaxPoints/max(perSeries, 1)))
	if perSeries > s.cfg.MaxPoints {
		fail(w, r, http.StatusBadRequest, "vmmon.aggregates.invalid", fmt.Sprintf(
			"granularity: one group's series would hold %d points, more than the limit of %d: narrow the range or choose a coarser granularity",
			perSeries, s.cfg.MaxPoints))
		return
	}
	aq.Limit = most
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > most {
			fail(w, r, http.StatusBadRequest, "vmmon.query.bad_limit", fmt.Sprintf(
				"limit %q: expected a whole number from 1 to %d (groups of %d points each within the limit of %d points; "+
					"a shorter range or a coarser granularity allows more).", v, most, perSeries, s.cfg.MaxPoints))
			return
		}
		aq.Limit = n
	}
	all, ok := s.runAggregates(w, r, aq)
	if !ok {
		return
	}
	out := aggregateMeasuresResponse{Aggregates: make([]aggregateSeriesView, 0, len(all)), Metric: aq.Metric, Aggregation: aq.Aggregation,
		GroupBy: aq.GroupBy, Start: aq.Start, End: aq.End, Granularity: int64(aq.Granularity.Seconds())}
	for _, a := range all {
		points := a.Points
		if points == nil {
			points = []storage.Point{}
		}
		out.Aggregates = append(out.Aggregates, aggregateSeriesView{aggregateView: s.aggregateView(r, aq.GroupBy, a), Points: points})
	}
	out.AggregatesLinks = pageLinks(r, q, lastKey(aq.GroupBy, all), aq.Limit, len(all))
	writeJSON(w, http.StatusOK, out)
}

// sortKey is one key of an instance listing's sort: an attribute, or a
// metric's latest value.
type sortKey struct {
	key  string
	desc bool
}

// instanceSortKeys are the attributes instances sort by (host: for those the
// host rule allows); any other key is a metric.
var instanceSortKeys = []string{"name", "created_at", "updated_at", "state", "host", "flavor_name"}

// parseSort reads sort=key[:asc|desc][,key...] (the parameter may repeat).
func parseSort(values []string) ([]sortKey, error) {
	var out []sortKey
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			key, dir, _ := strings.Cut(strings.TrimSpace(part), ":")
			if key == "" {
				return nil, fmt.Errorf("sort %q: expected key[:asc|desc], keys separated by commas", v)
			}
			switch dir {
			case "", "asc":
				out = append(out, sortKey{key: key})
			case "desc":
				out = append(out, sortKey{key: key, desc: true})
			default:
				return nil, fmt.Errorf("sort %q: direction %q is not asc or desc", v, dir)
			}
		}
	}
	return out, nil
}
