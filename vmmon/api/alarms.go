package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/gorilla/mux"

	"opendev.org/openstack/vmmon/vmmon/alarms"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/policy"
	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/trusts"
)

// alarmView shows an alarm with its state; webhook secrets and the trust
// are never shown.
func alarmViewOf(r *http.Request, a storage.Alarm, st storage.AlarmState) alarmView {
	acts := make([]alarmActionView, 0, len(a.Actions))
	for _, x := range a.Actions {
		acts = append(acts, alarmActionView{Type: x.Type, URL: x.URL, SecretSet: x.Secret != "", Action: x.Action, RebootType: x.RebootType})
	}
	return alarmView{ID: a.ID, Name: a.Name, Description: a.Description, ProjectID: a.ProjectID, UserID: a.UserID, Metric: a.Metric,
		Target: a.Target(), InstanceID: a.InstanceID, Host: a.Host, Aggregation: a.Aggregation, Window: a.Window, Comparison: a.Comparison,
		Threshold: a.Threshold, EvaluationPeriods: a.EvaluationPeriods, Severity: a.Severity, Enabled: a.Enabled,
		RepeatActions: a.RepeatActions, Actions: acts, State: st.State, StateReason: st.Reason, StateTimestamp: st.Time, Value: st.Value,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
		Links: []link{{Rel: "self", Href: baseURL(r) + "/v1/alarms/" + a.ID}}}
}

func (s *Server) alarmsReady(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.Alarms == nil {
		fail(w, r, http.StatusServiceUnavailable, "vmmon.alarms.unavailable", "This vmmon-api has no alarm storage.")
		return false
	}
	return true
}

// alarm loads an alarm the caller may see, or answers 404; then checks rule
// on its project.
func (s *Server) alarm(w http.ResponseWriter, r *http.Request, rule string) (storage.Alarm, bool) {
	id := mux.Vars(r)["id"]
	if !validID(id) {
		fail(w, r, http.StatusBadRequest, "vmmon.alarm.bad_id", fmt.Sprintf("%q is not an alarm UUID.", id))
		return storage.Alarm{}, false
	}
	if !s.scopeOK(w, r, "vmmon:alarm:get") || !s.scopeOK(w, r, rule) || !s.alarmsReady(w, r) {
		return storage.Alarm{}, false
	}
	a, err := s.cfg.Alarms.GetAlarm(r.Context(), strings.ToLower(id))
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.internal(w, r, err)
		return a, false
	}
	if errors.Is(err, storage.ErrNotFound) || !s.allowed(r, "vmmon:alarm:get", policy.Target{"project_id": a.ProjectID}) {
		fail(w, r, http.StatusNotFound, "vmmon.alarm.not_found", fmt.Sprintf("Alarm %s not found.", id))
		return a, false
	}
	if rule != "vmmon:alarm:get" && !s.authorize(w, r, rule, policy.Target{"project_id": a.ProjectID}, "") {
		return a, false
	}
	return a, true
}

// TrustMaker makes and deletes the Keystone trusts that alarms' instance
// actions run with (see package trusts).
type TrustMaker interface {
	Create(ctx context.Context, t trusts.Trustor) (string, error)
	Delete(ctx context.Context, token, id string) error
}

// instanceAction returns the index of a's first instance action, or -1.
func instanceAction(a storage.Alarm) int {
	for i, act := range a.Actions {
		if act.Type == "instance_action" {
			return i
		}
	}
	return -1
}

// makeTrust gives an alarm with instance actions and no trust yet a trust
// from the caller to vmmon, or answers why it cannot have one.
func (s *Server) makeTrust(w http.ResponseWriter, r *http.Request, a *storage.Alarm) bool {
	i := instanceAction(*a)
	if i < 0 || a.TrustID != "" {
		return true
	}
	field := fmt.Sprintf("actions[%d]", i)
	if s.cfg.Trusts == nil {
		fail(w, r, http.StatusBadRequest, "vmmon.alarm.unsupported_action", field+
			": this vmmon cannot act on an instance on your behalf (it needs [DEFAULT] auth_strategy = keystone to make a Keystone trust); use a webhook or a notification.")
		return false
	}
	if !s.authorize(w, r, "vmmon:instance:action", policy.Target{"project_id": a.ProjectID},
		field+": only a member of the instance's project may have an alarm act on it.") {
		return false
	}
	caller := callerOf(r)
	if caller.ProjectID != a.ProjectID {
		fail(w, r, http.StatusBadRequest, "vmmon.alarm.trust_scope", fmt.Sprintf(
			"%s: an instance action runs with a Keystone trust on the instance's project %s: use a token scoped to that project.", field, a.ProjectID))
		return false
	}
	id, err := s.cfg.Trusts.Create(r.Context(), trusts.Trustor{UserID: caller.UserID, ProjectID: caller.ProjectID, Roles: caller.Roles, Token: caller.Token})
	switch {
	case errors.Is(err, trusts.ErrRefused):
		fail(w, r, http.StatusForbidden, "vmmon.alarm.trust_refused", fmt.Sprintf(
			"%s: %v. An instance action needs a trust from you to vmmon; tokens of application credentials and of trusts cannot make one: log in with your password or another token.", field, err))
		return false
	case err != nil:
		s.cfg.Log.Error("making a Keystone trust", "request_id", requestID(r), "error", err)
		fail(w, r, http.StatusServiceUnavailable, "vmmon.identity_unavailable",
			"Keystone could not be reached to make the trust the alarm's instance action needs; try again later.")
		return false
	}
	a.TrustID = id
	return true
}

// dropTrust deletes a trust vmmon no longer needs, with the caller's token;
// a failure is logged (the trustor can delete it with "openstack trust delete").
func (s *Server) dropTrust(r *http.Request, id string) {
	if id == "" || s.cfg.Trusts == nil {
		return
	}
	ctx := context.WithoutCancel(r.Context())
	if err := s.cfg.Trusts.Delete(ctx, callerOf(r).Token, id); err != nil {
		s.cfg.Log.Warn("the Keystone trust of a deleted or changed alarm was not deleted; its trustor may delete it",
			"request_id", requestID(r), "trust_id", id, "error", err)
	}
}

func (s *Server) readAlarmRequest(w http.ResponseWriter, r *http.Request) (alarms.Request, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		fail(w, r, http.StatusBadRequest, "vmmon.alarm.bad_body", "The body could not be read.")
		return alarms.Request{}, false
	}
	req, err := alarms.Decode(body)
	if err != nil {
		fail(w, r, http.StatusBadRequest, "vmmon.alarm.invalid", err.Error()+".")
		return req, false
	}
	return req, true
}

// history records an entry of an alarm's history; a failure is logged, the
// request having succeeded.
func (s *Server) history(r *http.Request, h storage.AlarmHistory) {
	h.ID = storage.HistoryID(h.Time, messaging.NewUUID()[:8])
	if err := s.cfg.Alarms.AddAlarmHistory(r.Context(), h); err != nil {
		s.cfg.Log.Error("recording alarm history", "request_id", requestID(r), "alarm_id", h.AlarmID, "error", err)
	}
}

// ruleJSON is an alarm's rule for its history, without secrets.
func ruleJSON(r *http.Request, a storage.Alarm) string {
	v := alarmViewOf(r, a, storage.AlarmState{})
	raw, _ := json.Marshal(struct {
		Name              string            `json:"name"`
		Metric            string            `json:"metric"`
		Target            string            `json:"target"`
		Aggregation       string            `json:"aggregation"`
		Window            int               `json:"window"`
		Comparison        string            `json:"comparison"`
		Threshold         float64           `json:"threshold"`
		EvaluationPeriods int               `json:"evaluation_periods"`
		Severity          string            `json:"severity"`
		Enabled           bool              `json:"enabled"`
		RepeatActions     bool              `json:"repeat_actions"`
		Actions           []alarmActionView `json:"actions"`
	}{v.Name, v.Metric, v.Target, v.Aggregation, v.Window, v.Comparison, v.Threshold, v.EvaluationPeriods, v.Severity, v.Enabled,
		v.RepeatActions, v.Actions})
	return string(raw)
}

func (s *Server) createAlarm(w http.ResponseWriter, r *http.Request) {
	if _, ok := params(w, r); !ok {
		return
	}
	if !s.scopeOK(w, r, "vmmon:alarm:create") || !s.alarmsReady(w, r) {
		return
	}
	req, ok := s.readAlarmRequest(w, r)
	if !ok {
		return
	}
	a, err := alarms.New(req)
	if err != nil {
		fail(w, r, http.StatusBadRequest, "vmmon.alarm.invalid", err.Error()+".")
		return
	}
	caller := callerOf(r)
	// The alarm belongs to the project of what it watches: the instance's,
	// the project named, or (a host) the caller's.
	switch a.Target() {
	case "instance":
		inst, err := s.cfg.Store.GetInstance(r.Context(), a.InstanceID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.internal(w, r, err)
			return
		}
		if errors.Is(err, storage.ErrNotFound) || !s.allowed(r, "vmmon:instance:get", policy.Target{"project_id": inst.ProjectID}) {
			fail(w, r, http.StatusNotFound, "vmmon.instance.not_found", fmt.Sprintf("instance_id: instance %s not found.", a.InstanceID))
			return
		}
		a.ProjectID = inst.ProjectID
	case "host":
		if !s.authorize(w, r, "vmmon:alarm:create:host", policy.Target{"project_id": caller.ProjectID},
			"Only a cloud administrator may create an alarm on a compute host.") {
			return
		}
		a.ProjectID = caller.ProjectID
	}
	if !s.authorize(w, r, "vmmon:alarm:create", policy.Target{"project_id": a.ProjectID},
		"You may create alarms only on your own project's instances, or on your own project.") {
		return
	}
	if !s.makeTrust(w, r, &a) {
		return
	}
	now := s.cfg.Now().UTC()
	a.ID, a.UserID, a.CreatedAt, a.UpdatedAt = messaging.NewUUID(), caller.UserID, now, now
	if err := s.cfg.Alarms.PutAlarm(r.Context(), a); err != nil {
		s.dropTrust(r, a.TrustID)
		s.internal(w, r, err)
		return
	}
	s.history(r, storage.AlarmHistory{AlarmID: a.ID, Time: now, Type: "creation", Current: storage.AlarmInsufficientData,
		Detail: ruleJSON(r, a), UserID: caller.UserID})
	st, err := s.cfg.Alarms.GetAlarmState(r.Context(), a.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Location", baseURL(r)+"/v1/alarms/"+a.ID)
	writeJSON(w, http.StatusCreated, alarmResponse{Alarm: alarmViewOf(r, a, st)})
}

func (s *Server) listAlarms(w http.ResponseWriter, r *http.Request) {
	q, ok := params(w, r, "project_id", "all_projects", "instance_id", "limit", "marker")
	if !ok {
		return
	}
	caller := callerOf(r)
	if !s.authorize(w, r, "vmmon:alarm:list", policy.Target{"project_id": caller.ProjectID}, "") || !s.alarmsReady(w, r) {
		return
	}
	query := storage.AlarmQuery{ProjectID: caller.ProjectID, InstanceID: strings.ToLower(q.Get("instance_id")), Marker: q.Get("marker")}
	if query.ProjectID, ok = s.projectScope(w, r, q, "vmmon:alarm:list:all_projects",
		"Only a cloud administrator or reader may list the alarms of other projects."); !ok {
		return
	}
	if v := q.Get("instance_id"); v != "" && !validID(v) {
		fail(w, r, http.StatusBadRequest, "vmmon.query.bad_instance_id", fmt.Sprintf("instance_id %q: expected an instance UUID.", v))
		return
	}
	if m := query.Marker; m != "" && !validID(m) {
		fail(w, r, http.StatusBadRequest, "vmmon.query.bad_marker", fmt.Sprintf("marker %q: expected the id of the last alarm of the previous page.", m))
		return
	}
	limit, ok := parseLimit(w, r, q, s.cfg.MaxLimit)
	if !ok {
		return
	}
	query.Limit = limit
	list, err := s.cfg.Alarms.ListAlarms(r.Context(), query)
	if err != nil {
		s.deadlineOrInternal(w, r, err)
		return
	}
	out := alarmsResponse{Alarms: make([]alarmView, 0, len(list))}
	marker := ""
	for _, a := range list {
		st, err := s.cfg.Alarms.GetAlarmState(r.Context(), a.ID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.internal(w, r, err)
			return
		}
		out.Alarms = append(out.Alarms, alarmViewOf(r, a, st))
		marker = a.ID
	}
	out.AlarmsLinks = pageLinks(r, q, marker, limit, len(list))
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getAlarm(w http.ResponseWriter, r *http.Request) {
	if _, ok := params(w, r); !ok {
		return
	}
	a, ok := s.alarm(w, r, "vmmon:alarm:get")
	if !ok {
		return
	}
	st, err := s.cfg.Alarms.GetAlarmState(r.Context(), a.ID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, alarmResponse{Alarm: alarmViewOf(r, a, st)})
}

func (s *Server) updateAlarm(w http.ResponseWriter, r *http.Request) {
	if _, ok := params(w, r); !ok {
		return
	}
	a, ok := s.alarm(w, r, "vmmon:alarm:update")
	if !ok {
		return
	}
	req, ok := s.readAlarmRequest(w, r)
	if !ok {
		return
	}
	before := ruleJSON(r, a)
	if err := alarms.Apply(&a, req); err != nil {
		fail(w, r, http.StatusBadRequest, "vmmon.alarm.invalid", err.Error()+".")
		return
	}
	oldTrust := a.TrustID
	if instanceAction(a) < 0 {
		a.TrustID = "" // no instance action left: the trust goes
	}
	if !s.makeTrust(w, r, &a) {
		return
	}
	a.UpdatedAt = s.cfg.Now().UTC()
	if err := s.cfg.Alarms.PutAlarm(r.Context(), a); err != nil {
		if a.TrustID != oldTrust {
			s.dropTrust(r, a.TrustID)
		}
		s.internal(w, r, err)
		return
	}
	if oldTrust != a.TrustID {
		s.dropTrust(r, oldTrust)
	}
	if after := ruleJSON(r, a); after != before {
		s.history(r, storage.AlarmHistory{AlarmID: a.ID, Time: a.UpdatedAt, Type: "rule_change", Detail: after, UserID: callerOf(r).UserID})
	}
	st, err := s.cfg.Alarms.GetAlarmState(r.Context(), a.ID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, alarmResponse{Alarm: alarmViewOf(r, a, st)})
}

func (s *Server) deleteAlarm(w http.ResponseWriter, r *http.Request) {
	if _, ok := params(w, r); !ok {
		return
	}
	a, ok := s.alarm(w, r, "vmmon:alarm:delete")
	if !ok {
		return
	}
	if err := s.cfg.Alarms.DeleteAlarm(r.Context(), a.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.internal(w, r, err)
		return
	}
	s.dropTrust(r, a.TrustID)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) alarmHistory(w http.ResponseWriter, r *http.Request) {
	q, ok := params(w, r, "limit", "marker")
	if !ok {
		return
	}
	a, ok := s.alarm(w, r, "vmmon:alarm:get")
	if !ok {
		return
	}
	limit, ok := parseLimit(w, r, q, s.cfg.MaxLimit)
	if !ok {
		return
	}
	marker := q.Get("marker")
	if marker != "" && (len(marker) < 18 || marker[16] != '-') {
		fail(w, r, http.StatusBadRequest, "vmmon.query.bad_marker", fmt.Sprintf("marker %q: expected the id of the last entry of the previous page.", marker))
		return
	}
	list, err := s.cfg.Alarms.AlarmHistory(r.Context(), a.ID, limit, marker)
	if err != nil {
		s.deadlineOrInternal(w, r, err)
		return
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].ID > list[j].ID })
	last := ""
	if len(list) > 0 {
		last = list[len(list)-1].ID
	}
	writeJSON(w, http.StatusOK, alarmHistoryResponse{History: list, HistoryLinks: pageLinks(r, q, last, limit, len(list))})
}

// instanceAlarms lists the alarms on an instance with their states, for
// callers the alarm rule lets see them (none without alarm storage).
func (s *Server) instanceAlarms(r *http.Request, inst storage.Instance) ([]instanceAlarmView, error) {
	out := []instanceAlarmView{}
	if s.cfg.Alarms == nil || !s.allowed(r, "vmmon:alarm:get", policy.Target{"project_id": inst.ProjectID}) {
		return out, nil
	}
	list, err := s.cfg.Alarms.ListAlarms(r.Context(), storage.AlarmQuery{InstanceID: inst.ID, Limit: 100})
	if err != nil {
		return nil, err
	}
	for _, a := range list {
		st, err := s.cfg.Alarms.GetAlarmState(r.Context(), a.ID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return nil, err
		}
		out = append(out, instanceAlarmView{ID: a.ID, Name: a.Name, Severity: a.Severity, State: st.State})
	}
	return out, nil
}
