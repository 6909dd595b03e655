// Package api is vmmon-api: the versioned /v1 REST API. Each request is
// checked (token, then policy against the instance's project), then answered
// from storage. Another project's instance is 404, never 403.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"opendev.org/openstack/vmmon/vmmon/actions"
	"opendev.org/openstack/vmmon/vmmon/auth"
	"opendev.org/openstack/vmmon/vmmon/livestream"
	"opendev.org/openstack/vmmon/vmmon/policy"
	"opendev.org/openstack/vmmon/vmmon/storage"
)

// Queryable is what the API reads from storage: the queries of
// storage.Store, none of its writes.
type Queryable interface {
	GetInstance(ctx context.Context, id string) (storage.Instance, error)
	ListInstances(ctx context.Context, q storage.InstanceQuery) ([]storage.Instance, error)
	Aggregates(ctx context.Context, q storage.AggregateQuery) ([]storage.Aggregate, error)
	Metrics(ctx context.Context, instanceID string) ([]storage.MetricInfo, error)
	Measures(ctx context.Context, q storage.MeasureQuery) ([]storage.Series, error)
	Events(ctx context.Context, q storage.EventQuery) ([]storage.Event, error)
	GetHost(ctx context.Context, name string) (storage.Host, error)
	ListHosts(ctx context.Context) ([]storage.Host, error)
	GetAction(ctx context.Context, instanceID, id string) (storage.Action, error)
	ListActions(ctx context.Context, instanceID string) ([]storage.Action, error)
}

var _ Queryable = storage.Store(nil)

// Config is what the API needs.
type Config struct {
	Store     Queryable
	Validator auth.Validator
	Policy    *policy.Enforcer
	Log       *slog.Logger
	// AuthURI is announced in WWW-Authenticate on 401.
	AuthURI   string
	MaxPoints int
	MaxLimit  int
	// StaleAfter and DownAfter are multiples of an agent's interval.
	StaleAfter, DownAfter float64
	// HealthDisableFile, while it exists, makes /healthcheck answer 503.
	HealthDisableFile string
	Now               func() time.Time
	// Live feeds GET /v1/instances/{id}/stream; nil disables it.
	Live *livestream.Hub
	// Actions carries out POST /v1/instances/{id}/actions; nil disables it.
	Actions *actions.Runner
	// Retention bounds the range of a measures query to what its
	// resolution keeps (default storage.DefaultRetention).
	Retention storage.Retention
	// RequestTimeout bounds every request but the live stream (default 60 s).
	RequestTimeout time.Duration
	// StreamsPerUser caps one user's open live streams (default 10).
	StreamsPerUser int
	// StreamMaxLifetime ends a live stream, which the client may reopen
	// (default 1 h); a stream also ends when its token expires.
	StreamMaxLifetime time.Duration
	// Alarms stores alarms; nil: the Store's, if it keeps them.
	Alarms storage.Alarms
	// Trusts makes the Keystone trusts of alarms with instance actions;
	// nil: such alarms are refused.
	Trusts TrustMaker
	// Registry holds the figures served at /metrics (the API's own are
	// added to it); nil is a registry of the server's own.
	Registry *prometheus.Registry
}

// Server serves the API.
type Server struct {
	cfg     Config
	router  *mux.Router
	metrics *metrics
}

// New builds the server.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.MaxLimit <= 0 {
		cfg.MaxLimit = 1000
	}
	if cfg.MaxPoints <= 0 {
		cfg.MaxPoints = 10000
	}
	if cfg.Retention == (storage.Retention{}) {
		cfg.Retention = storage.DefaultRetention
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = time.Minute
	}
	if cfg.StreamsPerUser <= 0 {
		cfg.StreamsPerUser = 10
	}
	if cfg.StreamMaxLifetime <= 0 {
		cfg.StreamMaxLifetime = time.Hour
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if a, ok := cfg.Store.(storage.Alarms); ok && cfg.Alarms == nil {
		cfg.Alarms = a
	}
	s := &Server{cfg: cfg, router: mux.NewRouter(), metrics: newMetrics(cfg.Registry, cfg.Live)}
	r := s.router
	r.Use(s.metrics.instrument)
	r.Handle("/metrics", s.metrics.handler()).Methods(http.MethodGet)
	r.HandleFunc("/", s.versions).Methods(http.MethodGet)
	r.HandleFunc("/v1", s.version).Methods(http.MethodGet)
	r.HandleFunc("/v1/", s.version).Methods(http.MethodGet)
	r.HandleFunc("/healthcheck", s.healthcheck).Methods(http.MethodGet, http.MethodHead)
	for _, rt := range []struct {
		method, path string
		h            http.HandlerFunc
	}{
		{http.MethodGet, "/v1/instances", s.listInstances},
		{http.MethodGet, "/v1/instances/{id}", s.getInstance},
		{http.MethodGet, "/v1/instances/{id}/metrics", s.listMetrics},
		{http.MethodGet, "/v1/instances/{id}/metrics/{name}/measures", s.measures},
		{http.MethodGet, "/v1/instances/{id}/events", s.events},
		{http.MethodGet, "/v1/instances/{id}/stream", s.stream},
		{http.MethodPost, "/v1/instances/{id}/actions", s.createAction},
		{http.MethodGet, "/v1/instances/{id}/actions", s.listActions},
		{http.MethodGet, "/v1/instances/{id}/actions/{action_id}", s.getAction},
		{http.MethodGet, "/v1/hosts", s.listHosts},
		{http.MethodGet, "/v1/hosts/{host}", s.getHost},
		{http.MethodGet, "/v1/aggregates", s.aggregates},
		{http.MethodGet, "/v1/aggregates/measures", s.aggregateMeasures},
		{http.MethodPost, "/v1/alarms", s.createAlarm},
		{http.MethodGet, "/v1/alarms", s.listAlarms},
		{http.MethodGet, "/v1/alarms/{id}", s.getAlarm},
		{http.MethodPatch, "/v1/alarms/{id}", s.updateAlarm},
		{http.MethodDelete, "/v1/alarms/{id}", s.deleteAlarm},
		{http.MethodGet, "/v1/alarms/{id}/history", s.alarmHistory},
	} {
		r.Handle(rt.path, s.authenticate(rt.h)).Methods(rt.method)
	}
	notFound := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail(w, r, http.StatusNotFound, "vmmon.not_found", "No resource at "+r.URL.Path+".")
	})
	notAllowed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail(w, r, http.StatusMethodNotAllowed, "vmmon.method_not_allowed", r.Method+" is not allowed on "+r.URL.Path+".")
	})
	r.NotFoundHandler, r.MethodNotAllowedHandler = notFound, notAllowed
	return s
}

// Handler returns the server with its middleware.
func (s *Server) Handler() http.Handler {
	return withRequest(s.cfg.Log, withMicroversion(s.router))
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func versionDoc(r *http.Request) versionView {
	return versionView{
		ID: "v1.0", Status: "CURRENT", MinVersion: MinVersion, MaxVersion: MaxVersion,
		Updated:    "2026-11-28T00:00:00Z",
		Links:      []link{{Rel: "self", Href: baseURL(r) + "/v1/"}},
		MediaTypes: []mediaType{{Base: "application/json", Type: "application/vnd.openstack.vm-monitor-v1+json"}},
	}
}

func (s *Server) versions(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, versionsResponse{Versions: []versionView{versionDoc(r)}})
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, versionResponse{Version: versionDoc(r)})
}

// healthcheck follows oslo.middleware: 200 "OK", or 503 while the disable
// file exists.
func (s *Server) healthcheck(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	if p := s.cfg.HealthDisableFile; p != "" {
		if _, err := os.Stat(p); err == nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("DISABLED BY FILE"))
			return
		}
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("OK"))
}

func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/stream") {
			ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		token := r.Header.Get("X-Auth-Token")
		caller, err := s.cfg.Validator.Validate(r.Context(), token)
		switch {
		case errors.Is(err, auth.ErrInvalidToken) || (err == nil && caller == nil):
			s.unauthorized(w, r, "Authenticate with a valid Keystone token in X-Auth-Token.")
			return
		case err != nil:
			s.cfg.Log.Error("validating a token", "request_id", requestID(r), "error", err)
			fail(w, r, http.StatusServiceUnavailable, "vmmon.identity_unavailable",
				"The identity service (Keystone) cannot be reached to check your token; try again later.")
			return
		case !caller.Permits(service, r.Method, r.URL.Path):
			// As keystonemiddleware: an application credential's access
			// rules that do not name this request make its token invalid here.
			s.unauthorized(w, r, fmt.Sprintf("The application credential's access rules do not allow %s %s on %s.",
				r.Method, r.URL.Path, service))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyCaller, caller)))
	})
}

func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, detail string) {
	if s.cfg.AuthURI != "" {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf("Keystone uri=%q", s.cfg.AuthURI))
	}
	fail(w, r, http.StatusUnauthorized, "vmmon.unauthorized", detail)
}

func callerOf(r *http.Request) *auth.Caller {
	c, _ := r.Context().Value(keyCaller).(*auth.Caller)
	return c
}

func credentials(c *auth.Caller) *policy.Credentials {
	return &policy.Credentials{Roles: c.Roles, Scope: c.Scope(), Attrs: map[string]string{
		"user_id": c.UserID, "user_domain_id": c.UserDomainID, "project_id": c.ProjectID, "domain_id": c.DomainID,
		"system_scope": c.SystemScope}}
}

func (s *Server) allowed(r *http.Request, rule string, t policy.Target) bool {
	return s.cfg.Policy.Allowed(rule, credentials(callerOf(r)), t)
}

// authorize checks rule and answers 403 when it does not pass, naming the
// token scope needed when the scope is what is wrong.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, rule string, t policy.Target, detail string) bool {
	err := s.cfg.Policy.Authorize(rule, credentials(callerOf(r)), t)
	var se *policy.ScopeError
	switch {
	case err == nil:
		return true
	case errors.As(err, &se):
		fail(w, r, http.StatusForbidden, "vmmon.forbidden.scope", se.Error()+".")
	default:
		if detail == "" {
			detail = "Policy does not allow " + rule + "."
		}
		fail(w, r, http.StatusForbidden, "vmmon.forbidden", detail)
	}
	return false
}

// scopeOK answers 403 unless the caller's token has a scope rule takes;
// it reads nothing, so it comes before anything is loaded.
func (s *Server) scopeOK(w http.ResponseWriter, r *http.Request, rule string) bool {
	var se *policy.ScopeError
	if err := s.cfg.Policy.CheckScope(rule, credentials(callerOf(r))); errors.As(err, &se) {
		fail(w, r, http.StatusForbidden, "vmmon.forbidden.scope", se.Error()+".")
		return false
	}
	return true
}

// params checks that the query holds only the allowed parameters.
func params(w http.ResponseWriter, r *http.Request, allowed ...string) (url.Values, bool) {
	q := r.URL.Query()
	for k := range q {
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			detail := fmt.Sprintf("Unknown query parameter %q.", k)
			if len(allowed) > 0 {
				detail += " Accepted: " + strings.Join(allowed, ", ") + "."
			}
			fail(w, r, http.StatusBadRequest, "vmmon.query.unknown_parameter", detail)
			return nil, false
		}
	}
	return q, true
}

func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.cfg.Log.Error("request failed", "request_id", requestID(r), "error", err)
	fail(w, r, http.StatusInternalServerError, "vmmon.internal", "An internal error occurred; quote the request id to your operator.")
}

// instance loads an instance the caller may see under rule, or answers 404.
// The token's scope is checked before anything is read.
func (s *Server) instance(w http.ResponseWriter, r *http.Request, rule string) (storage.Instance, bool) {
	id := mux.Vars(r)["id"]
	if !validID(id) {
		fail(w, r, http.StatusBadRequest, "vmmon.instance.bad_id", fmt.Sprintf("%q is not an instance UUID.", id))
		return storage.Instance{}, false
	}
	if !s.scopeOK(w, r, "vmmon:instance:get") || !s.scopeOK(w, r, rule) {
		return storage.Instance{}, false
	}
	inst, err := s.cfg.Store.GetInstance(r.Context(), id)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.internal(w, r, err)
		return inst, false
	}
	if errors.Is(err, storage.ErrNotFound) || !s.allowed(r, "vmmon:instance:get", policy.Target{"project_id": inst.ProjectID}) {
		fail(w, r, http.StatusNotFound, "vmmon.instance.not_found", fmt.Sprintf("Instance %s not found.", id))
		return inst, false
	}
	if rule != "vmmon:instance:get" && !s.authorize(w, r, rule, policy.Target{"project_id": inst.ProjectID}, "") {
		return inst, false
	}
	return inst, true
}

func validID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

// parseTime reads ISO 8601 (a time without a zone is UTC).
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 time such as 2026-11-28T10:00:00Z", s)
}

// timeParam is an optional time parameter and where it goes.
type timeParam struct {
	name string
	dst  *time.Time
}

// parseTimes reads optional time parameters, answering 400 for one that is
// not ISO 8601.
func parseTimes(w http.ResponseWriter, r *http.Request, q url.Values, ps ...timeParam) bool {
	for _, p := range ps {
		if v := q.Get(p.name); v != "" {
			t, err := parseTime(v)
			if err != nil {
				fail(w, r, http.StatusBadRequest, "vmmon.query.bad_time", p.name+": "+err.Error())
				return false
			}
			*p.dst = t
		}
	}
	return true
}

func parseLimit(w http.ResponseWriter, r *http.Request, q url.Values, max int) (int, bool) {
	limit := max
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			fail(w, r, http.StatusBadRequest, "vmmon.query.bad_limit", fmt.Sprintf("limit %q: expected a whole number from 1 to %d.", v, max))
			return 0, false
		}
		limit = min(n, max)
	}
	return limit, true
}

func seconds(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }
