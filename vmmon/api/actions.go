package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/gorilla/mux"

	"opendev.org/openstack/vmmon/vmmon/actions"
	"opendev.org/openstack/vmmon/vmmon/storage"
)

// createAction serves POST /v1/instances/{id}/actions: policy and ownership
// first, then Nova with the caller's own token.
func (s *Server) createAction(w http.ResponseWriter, r *http.Request) {
	if _, ok := params(w, r); !ok {
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if err := actions.ValidateKey(key); err != nil {
		fail(w, r, http.StatusBadRequest, "vmmon.actions.bad_idempotency_key", err.Error()+".")
		return
	}
	inst, ok := s.instance(w, r, "vmmon:instance:action")
	if !ok {
		return
	}
	if s.cfg.Actions == nil {
		fail(w, r, http.StatusServiceUnavailable, "vmmon.actions.unavailable", "This vmmon-api does not carry out actions.")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		fail(w, r, http.StatusBadRequest, "vmmon.actions.bad_body", "The body could not be read.")
		return
	}
	var req actions.Request
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		fail(w, r, http.StatusBadRequest, "vmmon.actions.bad_body",
			fmt.Sprintf("Expected {\"action\": \"<name>\"} (reboot also takes \"type\": \"SOFT\"|\"HARD\", lock \"reason\"): %v. Actions: %s.",
				err, strings.Join(actions.Names(), ", ")))
		return
	}
	if err := actions.Validate(&req); err != nil {
		fail(w, r, http.StatusBadRequest, "vmmon.actions.bad_action", err.Error()+".")
		return
	}
	caller := callerOf(r)
	if caller.ComputeURL == "" {
		fail(w, r, http.StatusServiceUnavailable, "vmmon.actions.no_compute", "The caller's catalog has no public compute endpoint.")
		return
	}
	a, err := s.cfg.Actions.Do(r.Context(), actions.Origin{ComputeURL: caller.ComputeURL, Token: caller.Token, RequestID: requestID(r),
		UserID: caller.UserID, ProjectID: caller.ProjectID}, inst, req, key)
	var ne *actions.NovaError
	switch {
	case errors.Is(err, actions.ErrKeyReused):
		fail(w, r, http.StatusUnprocessableEntity, "vmmon.actions.idempotency_key_reused",
			"This Idempotency-Key was used for another request on this instance within the last 24 hours ("+a.Action+
				"): use a new key for a new request.")
		return
	case errors.Is(err, storage.ErrConflict):
		// The same request again: the first action, not a second one.
		w.Header().Set("Location", baseURL(r)+"/v1/instances/"+inst.ID+"/actions/"+a.ID)
		writeJSON(w, http.StatusAccepted, actionResponse{Action: a})
		return
	case errors.As(err, &ne):
		code := map[int]string{http.StatusConflict: "vmmon.nova.conflict", http.StatusNotFound: "vmmon.nova.not_found",
			http.StatusForbidden: "vmmon.nova.forbidden", http.StatusUnauthorized: "vmmon.nova.unauthorized"}[ne.Status]
		if code == "" {
			code = "vmmon.nova.refused"
		}
		fail(w, r, ne.Status, code, "Nova refused the "+req.Action+": "+ne.Message)
		return
	case errors.Is(err, actions.ErrNovaUnavailable):
		s.cfg.Log.Error("calling Nova", "request_id", requestID(r), "error", err)
		fail(w, r, http.StatusServiceUnavailable, "vmmon.nova.unavailable", "The compute service cannot be reached; try again later.")
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Location", baseURL(r)+"/v1/instances/"+inst.ID+"/actions/"+a.ID)
	writeJSON(w, http.StatusAccepted, actionResponse{Action: a})
}

func (s *Server) listActions(w http.ResponseWriter, r *http.Request) {
	q, ok := params(w, r, "limit", "marker")
	if !ok {
		return
	}
	inst, ok := s.instance(w, r, "vmmon:instance:action:list")
	if !ok {
		return
	}
	limit, ok := parseLimit(w, r, q, s.cfg.MaxLimit)
	if !ok {
		return
	}
	list, err := s.cfg.Store.ListActions(r.Context(), inst.ID)
	if err != nil {
		s.deadlineOrInternal(w, r, err)
		return
	}
	// Oldest first; the page starts after the marker's action.
	sort.SliceStable(list, func(i, j int) bool { return list[i].CreatedAt.Before(list[j].CreatedAt) })
	if m := q.Get("marker"); m != "" {
		i := slices.IndexFunc(list, func(a storage.Action) bool { return a.ID == m })
		if i < 0 {
			fail(w, r, http.StatusBadRequest, "vmmon.query.bad_marker", fmt.Sprintf("marker %q: no such action on this instance.", m))
			return
		}
		list = list[i+1:]
	}
	if len(list) > limit {
		list = list[:limit]
	}
	marker := ""
	for i := range list {
		if s.cfg.Actions != nil {
			list[i] = s.cfg.Actions.Expire(r.Context(), list[i])
		}
		marker = list[i].ID
	}
	writeJSON(w, http.StatusOK, actionsResponse{Actions: list, ActionsLinks: pageLinks(r, q, marker, limit, len(list))})
}

func (s *Server) getAction(w http.ResponseWriter, r *http.Request) {
	if _, ok := params(w, r); !ok {
		return
	}
	inst, ok := s.instance(w, r, "vmmon:instance:action:list")
	if !ok {
		return
	}
	a, err := s.cfg.Store.GetAction(r.Context(), inst.ID, mux.Vars(r)["action_id"])
	if errors.Is(err, storage.ErrNotFound) {
		fail(w, r, http.StatusNotFound, "vmmon.action.not_found", "No such action on this instance.")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if s.cfg.Actions != nil {
		a = s.cfg.Actions.Expire(r.Context(), a)
	}
	writeJSON(w, http.StatusOK, actionResponse{Action: a})
}
