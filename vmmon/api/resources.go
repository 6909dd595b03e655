package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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

// projectScope reads all_projects and project_id: the project a list or a
// fold is for, "" for every project. The caller's own project needs no more
// than the request's own rule; another, or all, needs rule too, refused with
// refusal. False when it has answered.
func (s *Server) projectScope(w http.ResponseWriter, r *http.Request, q url.Values, rule, refusal string) (string, bool) {
	caller := callerOf(r)
	project := caller.ProjectID
	switch all := q.Get("all_projects"); all {
	case "", "false", "0":
	case "true", "1":
		project = ""
	default:
		fail(w, r, http.StatusBadRequest, "vmmon.query.bad_all_projects", fmt.Sprintf("all_projects %q: expected true or false.", all))
		return "", false
	}
	if p := q.Get("project_id"); p != "" {
		project = p
	}
	if (project == "" || project != caller.ProjectID) && !s.authorize(w, r, rule, policy.Target{"project_id": project}, refusal) {
		return "", false
	}
	return project, true
}

func (s *Server) listInstances(w http.ResponseWriter, r *http.Request) {
	q, ok := params(w, r, "project_id", "all_projects", "host", "state", "name", "flavor", "changes-since", "deleted", "sort", "limit", "marker")
	if !ok {
		return
	}
	caller := callerOf(r)
	if !s.authorize(w, r, "vmmon:instance:list", policy.Target{"project_id": caller.ProjectID}, "") {
		return
	}
	// A project-scoped caller lists its project; a caller without a project
	// (a system-scoped token) every project, if the all-projects rule lets it.
	query := storage.InstanceQuery{ProjectID: caller.ProjectID, Host: q.Get("host"), State: q.Get("state"), Marker: q.Get("marker"),
		NameContains: q.Get("name"), Flavor: q.Get("flavor"), Deleted: storage.HideDeleted}
	if query.ProjectID, ok = s.projectScope(w, r, q, "vmmon:instance:list:all_projects",
		"Only a cloud administrator or reader may list the instances of other projects."); !ok {
		return
	}
	if q.Get("host") != "" && !s.authorize(w, r, "vmmon:instance:host", policy.Target{"project_id": query.ProjectID},
		"Only a cloud administrator or reader may filter by host.") {
		return
	}
	if m := query.Marker; m != "" && !validID(m) {
		fail(w, r, http.StatusBadRequest, "vmmon.query.bad_marker", fmt.Sprintf("marker %q: expected the id of the last instance of the previous page.", m))
		return
	}
	// As Nova: changes-since shows deleted instances too, unless deleted=false.
	if !parseTimes(w, r, q, timeParam{"changes-since", &query.ChangesSince}) {
		return
	}
	if !query.ChangesSince.IsZero() {
		query.Deleted = storage.WithDeleted
	}
	switch v := q.Get("deleted"); v {
	case "":
	case "false", "0":
		query.Deleted = storage.HideDeleted
	case "true", "1":
		query.Deleted = storage.OnlyDeleted
	default:
		fail(w, r, http.StatusBadRequest, "vmmon.query.bad_deleted", fmt.Sprintf("deleted %q: expected true (deleted instances only) or false.", v))
		return
	}
	keys, err := parseSort(q["sort"])
	if err != nil {
		fail(w, r, http.StatusBadRequest, "vmmon.query.bad_sort", err.Error()+
			": keys are name, created_at, updated_at, state, flavor_name, host (administrators) or a metric (its latest value).")
		return
	}
	for _, k := range keys {
		if k.key == "host" && !s.authorize(w, r, "vmmon:instance:host", policy.Target{"project_id": query.ProjectID},
			"Only a cloud administrator or reader may sort by host.") {
			return
		}
	}
	limit, ok := parseLimit(w, r, q, s.cfg.MaxLimit)
	if !ok {
		return
	}
	query.Limit = limit
	var list []storage.Instance
	if len(keys) > 0 {
		if list, ok = s.sortedInstances(w, r, query, keys); !ok {
			return
		}
	} else if list, err = s.cfg.Store.ListInstances(r.Context(), query); err != nil {
		s.internal(w, r, err)
		return
	}
	out := instancesResponse{Instances: make([]instanceView, 0, len(list))}
	for _, in := range list {
		out.Instances = append(out.Instances, s.instanceView(r, in))
	}
	marker := ""
	if len(list) > 0 {
		marker = list[len(list)-1].ID
	}
	out.InstancesLinks = pageLinks(r, q, marker, limit, len(list))
	writeJSON(w, http.StatusOK, out)
}

// instanceView shows the host of an instance only to those the host rule
// allows; everyone gets host_id.
func (s *Server) instanceView(r *http.Request, in storage.Instance) instanceView {
	v := instanceView{Instance: in, HostID: hostID(in.ProjectID, in.Host)}
	if s.allowed(r, "vmmon:instance:host", policy.Target{"project_id": in.ProjectID}) {
		v.Host, v.Node = in.Host, in.Node
	}
	return v
}

// hostID names a host without revealing it, as Nova's hostId does: the
// same host has another id in every project.
func hostID(projectID, host string) string {
	if host == "" {
		return ""
	}
	sum := sha256.Sum224([]byte(projectID + host))
	return hex.EncodeToString(sum[:])
}

// pageLinks are a collection's links: itself and, when the page is full,
// the next page (from marker on).
func pageLinks(r *http.Request, q url.Values, marker string, limit, n int) []link {
	self := baseURL(r) + r.URL.Path
	if len(q) > 0 {
		self += "?" + q.Encode()
	}
	links := []link{{Rel: "self", Href: self}}
	if n >= limit && marker != "" {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("marker", marker)
		next.Set("limit", strconv.Itoa(limit))
		links = append(links, link{Rel: "next", Href: baseURL(r) + r.URL.Path + "?" + next.Encode()})
	}
	return links
}

func (s *Server) getInstance(w http.ResponseWriter, r *http.Request) {
	if _, ok := params(w, r); !ok {
		return
	}
	inst, ok := s.instance(w, r, "vmmon:instance:get")
	if !ok {
		return
	}
	view := s.instanceView(r, inst)
	agent := agentView{Host: view.Host, Status: "unknown"}
	if inst.Host != "" {
		h, err := s.cfg.Store.GetHost(r.Context(), inst.Host)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.internal(w, r, err)
			return
		}
		if err == nil {
			status, age := s.hostStatus(h)
			agent.Status, agent.HeartbeatAge, agent.LastHeartbeat = status, &age, &h.LastHeartbeat
		}
	}
	latest, err := s.cfg.Store.Metrics(r.Context(), inst.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	alarms, err := s.instanceAlarms(r, inst)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, instanceResponse{Instance: view, Agent: agent, Alarms: alarms, DataStale: agent.Status != "up", Latest: latest})
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
	writeJSON(w, http.StatusOK, metricsResponse{Metrics: ms})
}

func (s *Server) measures(w http.ResponseWriter, r *http.Request) {
	q, ok := params(w, r, "start", "end", "granularity", "aggregation", "device", "all_devices")
	if !ok {
		return
	}
	// Access first: nothing is read for a caller who may not see the instance.
	if _, ok := s.instance(w, r, "vmmon:instance:get"); !ok {
		return
	}
	now := s.cfg.Now().UTC()
	mq := storage.MeasureQuery{InstanceID: mux.Vars(r)["id"], Metric: mux.Vars(r)["name"], Device: q.Get("device"),
		Start: now.Add(-time.Hour), End: now, Granularity: time.Minute, Aggregation: q.Get("aggregation"), MaxPoints: s.cfg.MaxPoints,
		Retention: s.cfg.Retention}
	if !parseTimes(w, r, q, timeParam{"start", &mq.Start}, timeParam{"end", &mq.End}) {
		return
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
	series, err := s.cfg.Store.Measures(r.Context(), mq)
	var ie *storage.InvalidError
	if errors.As(err, &ie) {
		fail(w, r, http.StatusBadRequest, "vmmon.measures.invalid", ie.Error())
		return
	}
	if err != nil {
		s.deadlineOrInternal(w, r, err)
		return
	}
	if n := countPoints(series); n > mq.MaxPoints {
		fail(w, r, http.StatusBadRequest, "vmmon.measures.invalid", fmt.Sprintf(
			"granularity: the range holds %d points, more than the limit of %d: narrow the range or choose a coarser granularity", n, mq.MaxPoints))
		return
	}
	s.writeMeasures(w, r, mq, series)
}

func countPoints(series []storage.Series) int {
	n := 0
	for _, x := range series {
		n += len(x.Points)
	}
	return n
}

// deadlineOrInternal answers 503 when the request ran out of time, 500
// otherwise.
func (s *Server) deadlineOrInternal(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(r.Context().Err(), context.DeadlineExceeded) {
		fail(w, r, http.StatusServiceUnavailable, "vmmon.timeout",
			fmt.Sprintf("The request took longer than %s; narrow it (a shorter range, a smaller limit) or try again later.", s.cfg.RequestTimeout))
		return
	}
	s.internal(w, r, err)
}

// eventMarker names an event in a page's marker: its time and id.
func eventMarker(e storage.Event) string {
	return e.Time.UTC().Format(time.RFC3339Nano) + "," + e.ID
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	q, ok := params(w, r, "start", "end", "limit", "marker")
	if !ok {
		return
	}
	inst, ok := s.instance(w, r, "vmmon:instance:get")
	if !ok {
		return
	}
	eq := storage.EventQuery{InstanceID: inst.ID}
	if !parseTimes(w, r, q, timeParam{"start", &eq.Start}, timeParam{"end", &eq.End}) {
		return
	}
	if !eq.Start.IsZero() && !eq.End.IsZero() && !eq.End.After(eq.Start) {
		fail(w, r, http.StatusBadRequest, "vmmon.query.bad_range", "end must be after start.")
		return
	}
	limit, ok := parseLimit(w, r, q, s.cfg.MaxLimit)
	if !ok {
		return
	}
	// Events come newest first; a marker (time,id of the last event of the
	// previous page) continues below it. Events of the marker's millisecond
	// are read again and skipped up to the marker.
	var markerTime time.Time
	markerID := ""
	if m := q.Get("marker"); m != "" {
		ts, id, found := strings.Cut(m, ",")
		t, err := time.Parse(time.RFC3339Nano, ts)
		if !found || err != nil || id == "" {
			fail(w, r, http.StatusBadRequest, "vmmon.query.bad_marker",
				fmt.Sprintf("marker %q: expected the marker of the previous page's next link (time,id of its last event).", m))
			return
		}
		markerTime, markerID = t, id
		if end := t.Add(time.Millisecond); eq.End.IsZero() || end.Before(eq.End) {
			eq.End = end
		}
	}
	eq.Limit = limit + markerSlack
	evs, err := s.cfg.Store.Events(r.Context(), eq)
	if err != nil {
		s.deadlineOrInternal(w, r, err)
		return
	}
	if markerID != "" {
		evs = afterMarker(evs, markerTime, markerID)
	}
	if len(evs) > limit {
		evs = evs[:limit]
	}
	showHost := s.allowed(r, "vmmon:instance:host", policy.Target{"project_id": inst.ProjectID})
	marker := ""
	for i := range evs {
		if !showHost {
			evs[i].Host = ""
		}
		marker = eventMarker(evs[i])
	}
	writeJSON(w, http.StatusOK, eventsResponse{Events: evs, EventsLinks: pageLinks(r, q, marker, limit, len(evs))})
}

// markerSlack is how many events of one millisecond a page may repeat.
const markerSlack = 64

// afterMarker drops the events up to and including the marker's; without
// it among them (it expired), those at or after its time.
func afterMarker(evs []storage.Event, t time.Time, id string) []storage.Event {
	for i, e := range evs {
		if e.ID == id && e.Time.Equal(t) {
			return evs[i+1:]
		}
	}
	out := evs[:0]
	for _, e := range evs {
		if e.Time.Before(t) {
			out = append(out, e)
		}
	}
	return out
}

func (s *Server) hostView(h storage.Host) hostView {
	status, age := s.hostStatus(h)
	return hostView{Name: h.Name, Status: status, HeartbeatAge: age, LastHeartbeat: h.LastHeartbeat,
		Interval: h.Interval, Stream: h.Stream, LastSeq: h.LastSeq, SeqGaps: h.SeqGaps, ClockSkew: h.ClockSkew}
}

func (s *Server) listHosts(w http.ResponseWriter, r *http.Request) {
	q, ok := params(w, r, "limit", "marker")
	if !ok {
		return
	}
	if !s.authorize(w, r, "vmmon:host:list", nil, "Only a cloud administrator or reader may list hosts.") {
		return
	}
	limit, ok := parseLimit(w, r, q, s.cfg.MaxLimit)
	if !ok {
		return
	}
	hosts, err := s.cfg.Store.ListHosts(r.Context())
	if err != nil {
		s.deadlineOrInternal(w, r, err)
		return
	}
	// By name; the page starts after the marker.
	marker := q.Get("marker")
	out := make([]hostView, 0, min(len(hosts), limit))
	for _, h := range hosts {
		if h.Name > marker && len(out) < limit {
			out = append(out, s.hostView(h))
		}
	}
	last := ""
	if len(out) > 0 {
		last = out[len(out)-1].Name
	}
	writeJSON(w, http.StatusOK, hostsResponse{Hosts: out, HostsLinks: pageLinks(r, q, last, limit, len(out))})
}

func (s *Server) getHost(w http.ResponseWriter, r *http.Request) {
	if _, ok := params(w, r); !ok {
		return
	}
	if !s.authorize(w, r, "vmmon:host:get", nil, "Only a cloud administrator or reader may see hosts.") {
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
	heartbeat := jsonRaw(h.Heartbeat)
	view.Heartbeat = &heartbeat
	writeJSON(w, http.StatusOK, hostResponse{Host: view})
}
