package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"opendev.org/openstack/vmmon/vmmon/policy"
	"opendev.org/openstack/vmmon/vmmon/storage"
)

// hostStatus says whether an agent is up, stale or down from its heartbeat age.
func (s *Server) hostStatus(h storage.Host) (string, float64) {
	if h.LastHeartbeat.IsZero() {
		return "unknown", 0
	}
	age := s.cfg.Now().Sub(h.LastHeartbeat)
	interval := time.Duration(h.Interval * float64(time.Second))
	if interval <= 0 {
		interval = 10 * time.Second
	}
	switch {
	case age > time.Duration(s.cfg.DownAfter*float64(interval)):
		return "down", seconds(age)
	case age > time.Duration(s.cfg.StaleAfter*float64(interval)):
		return "stale", seconds(age)
	}
	return "up", seconds(age)
}

func (s *Server) listInstances(w http.ResponseWriter, r *http.Request) {
	q, ok := params(w, r, "project_id", "all_projects", "host", "state", "limit", "marker")
	if !ok {
		return
	}
	caller := callerOf(r)
	if !s.allowed(r, "vmmon:instance:list", policy.Target{"project_id": caller.ProjectID}) {
		fail(w, r, http.StatusForbidden, "vmmon.forbidden", "Policy does not allow vmmon:instance:list.")
		return
	}
	query := storage.InstanceQuery{ProjectID: caller.ProjectID, Host: q.Get("host"), State: q.Get("state"), Marker: q.Get("marker")}
	all := q.Get("all_projects")
	switch all {
	case "", "false", "0":
	case "true", "1":
		query.ProjectID = ""
	default:
		fail(w, r, http.StatusBadRequest, "vmmon.query.bad_all_projects", fmt.Sprintf("all_projects %q: expected true or false.", all))
		return
	}
	if p := q.Get("project_id"); p != "" {
		query.ProjectID = p
	}
	if query.ProjectID != caller.ProjectID && !s.allowed(r, "vmmon:instance:list:all_projects", policy.Target{"project_id": query.ProjectID}) {
		fail(w, r, http.StatusForbidden, "vmmon.forbidden", "Only an administrator may list the instances of other projects.")
		return
	}
	if (q.Get("host") != "") && !s.allowed(r, "vmmon:host:list", nil) {
		fail(w, r, http.StatusForbidden, "vmmon.forbidden", "Only an administrator may filter by host.")
		return
	}
	if m := query.Marker; m != "" && !validID(m) {
		fail(w, r, http.StatusBadRequest, "vmmon.query.bad_marker", fmt.Sprintf("marker %q: expected the id of the last instance of the previous page.", m))
		return
	}
	limit, ok := parseLimit(w, r, q, s.cfg.MaxLimit)
	if !ok {
		return
	}
	query.Limit = limit
	list, err := s.cfg.Store.ListInstances(r.Context(), query)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := map[string]any{"instances": list}
	if len(list) == limit {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("marker", list[len(list)-1].ID)
		next.Set("limit", strconv.Itoa(limit))
		out["instances_links"] = []map[string]string{{"rel": "next", "href": baseURL(r) + "/v1/instances?" + next.Encode()}}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getInstance(w http.ResponseWriter, r *http.Request) {
	if _, ok := params(w, r); !ok {
		return
	}
	inst, ok := s.instance(w, r, "vmmon:instance:get")
	if !ok {
		return
	}
	agent := map[string]any{"host": inst.Host, "status": "unknown"}
	if inst.Host != "" {
		h, err := s.cfg.Store.GetHost(r.Context(), inst.Host)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.internal(w, r, err)
			return
		}
		if err == nil {
			status, age := s.hostStatus(h)
			agent["status"], agent["heartbeat_age_s"], agent["last_heartbeat"] = status, age, h.LastHeartbeat
		}
	}
	latest, err := s.cfg.Store.Metrics(r.Context(), inst.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"instance": inst, "agent": agent, "data_stale": agent["status"] != "up", "latest": latest})
}

func (s *Server) listMetrics(w http.ResponseWriter, r *http.Request) {
	if _, ok := params(w, r); !ok {
		return
	}
	inst, ok := s.instance(w, r, "vmmon:instance:get")
	if !ok {
		return
	}
	ms, err := s.cfg.Store.Metrics(r.Context(), inst.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"metrics": ms})
}

func (s *Server) measures(w http.ResponseWriter, r *http.Request) {
	q, ok := params(w, r, "start", "end", "granularity", "aggregation", "device", "all_devices")
	if !ok {
		return
	}
	if id := mux.Vars(r)["id"]; !validID(id) {
		fail(w, r, http.StatusBadRequest, "vmmon.instance.bad_id", fmt.Sprintf("%q is not an instance UUID.", id))
		return
	}
	now := s.cfg.Now().UTC()
	mq := storage.MeasureQuery{InstanceID: mux.Vars(r)["id"], Metric: mux.Vars(r)["name"], Device: q.Get("device"),
		Start: now.Add(-time.Hour), End: now, Granularity: time.Minute, Aggregation: q.Get("aggregation"), MaxPoints: s.cfg.MaxPoints}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"start", &mq.Start}, {"end", &mq.End}} {
		if v := q.Get(p.name); v != "" {
			t, err := parseTime(v)
			if err != nil {
				fail(w, r, http.StatusBadRequest, "vmmon.query.bad_time", p.name+": "+err.Error())
				return
			}
			*p.dst = t
		}
	}
	if v := q.Get("granularity"); v != "" {
		if v == "raw" {
			mq.Granularity = storage.Raw
		} else {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				fail(w, r, http.StatusBadRequest, "vmmon.query.bad_granularity",
					fmt.Sprintf("granularity %q: expected raw, or seconds as a multiple of 60 (60, 300, 3600, ...).", v))
				return
			}
			mq.Granularity = time.Duration(n) * time.Second
		}
	}
	switch v := q.Get("all_devices"); v {
	case "", "false", "0":
	case "true", "1":
		mq.AllDevices = true
	default:
		fail(w, r, http.StatusBadRequest, "vmmon.query.bad_all_devices", fmt.Sprintf("all_devices %q: expected true or false.", v))
		return
	}
	if mq.Aggregation == "" {
		mq.Aggregation = "mean"
	}
	// The points are read while the instance is checked, and answered only
	// if the caller may see it.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	type result struct {
		series []storage.Series
		err    error
	}
	read := make(chan result, 1)
	go func() {
		series, err := s.cfg.Store.Measures(ctx, mq)
		read <- result{series, err}
	}()
	if _, ok := s.instance(w, r, "vmmon:instance:get"); !ok {
		cancel()
		<-read
		return
	}
	res := <-read
	series, err := res.series, res.err
	var ie *storage.InvalidError
	if errors.As(err, &ie) {
		fail(w, r, http.StatusBadRequest, "vmmon.measures.invalid", ie.Error())
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.writeMeasures(w, r, mq, series)
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	q, ok := params(w, r, "start", "end", "limit")
	if !ok {
		return
	}
	inst, ok := s.instance(w, r, "vmmon:instance:get")
	if !ok {
		return
	}
	eq := storage.EventQuery{InstanceID: inst.ID}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"start", &eq.Start}, {"end", &eq.End}} {
		if v := q.Get(p.name); v != "" {
			t, err := parseTime(v)
			if err != nil {
				fail(w, r, http.StatusBadRequest, "vmmon.query.bad_time", p.name+": "+err.Error())
				return
			}
			*p.dst = t
		}
	}
	if !eq.Start.IsZero() && !eq.End.IsZero() && !eq.End.After(eq.Start) {
		fail(w, r, http.StatusBadRequest, "vmmon.query.bad_range", "end must be after start.")
		return
	}
	if eq.Limit, ok = parseLimit(w, r, q, s.cfg.MaxLimit); !ok {
		return
	}
	evs, err := s.cfg.Store.Events(r.Context(), eq)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": evs})
}

func (s *Server) hostView(h storage.Host) map[string]any {
	status, age := s.hostStatus(h)
	return map[string]any{"name": h.Name, "status": status, "heartbeat_age_s": age, "last_heartbeat": h.LastHeartbeat,
		"interval_s": h.Interval, "stream": h.Stream, "last_seq": h.LastSeq, "seq_gaps": h.SeqGaps}
}

func (s *Server) listHosts(w http.ResponseWriter, r *http.Request) {
	if _, ok := params(w, r); !ok {
		return
	}
	if !s.allowed(r, "vmmon:host:list", nil) {
		fail(w, r, http.StatusForbidden, "vmmon.forbidden", "Only an administrator may list hosts.")
		return
	}
	hosts, err := s.cfg.Store.ListHosts(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(hosts))
	for _, h := range hosts {
		out = append(out, s.hostView(h))
	}
	writeJSON(w, http.StatusOK, map[string]any{"hosts": out})
}

func (s *Server) getHost(w http.ResponseWriter, r *http.Request) {
	if _, ok := params(w, r); !ok {
		return
	}
	if !s.allowed(r, "vmmon:host:get", nil) {
		fail(w, r, http.StatusForbidden, "vmmon.forbidden", "Only an administrator may see hosts.")
		return
	}
	h, err := s.cfg.Store.GetHost(r.Context(), mux.Vars(r)["host"])
	if errors.Is(err, storage.ErrNotFound) {
		fail(w, r, http.StatusNotFound, "vmmon.host.not_found", fmt.Sprintf("Host %q not found.", mux.Vars(r)["host"]))
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	view := s.hostView(h)
	view["heartbeat"] = jsonRaw(h.Heartbeat)
	writeJSON(w, http.StatusOK, map[string]any{"host": view})
}

type jsonRaw string

func (j jsonRaw) MarshalJSON() ([]byte, error) {
	if j == "" {
		return []byte("null"), nil
	}
	return []byte(j), nil
}
