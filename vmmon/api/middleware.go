package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"opendev.org/openstack/vmmon/vmmon/messaging"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyCaller
)

var globalIDPattern = regexp.MustCompile(`^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func requestID(r *http.Request) string { s, _ := r.Context().Value(keyRequestID).(string); return s }

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(s int) { w.status = s; w.ResponseWriter.WriteHeader(s) }
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Flush lets streaming responses through.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// withRequest gives each request an id (x-openstack-request-id), keeps a
// valid incoming one as the global request id, logs one access line, and
// turns a panic into a 500 that shows only the id.
func withRequest(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		id := "req-" + messaging.NewUUID()
		global := r.Header.Get("X-Openstack-Request-Id")
		if !globalIDPattern.MatchString(global) {
			global = ""
		}
		w.Header().Set("X-Openstack-Request-Id", id)
		r = r.WithContext(context.WithValue(r.Context(), keyRequestID, id))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				log.Error("panic serving a request", "request_id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if sw.status == 0 {
					fail(sw, r, http.StatusInternalServerError, "vmmon.internal", "An internal error occurred; quote the request id to your operator.")
				}
			}
			log.Info("request", "request_id", id, "global_request_id", global, "method", r.Method, "path", r.URL.Path,
				"status", sw.status, "bytes", sw.bytes, "duration_ms", float64(time.Since(t0).Microseconds())/1000,
				"remote", r.RemoteAddr)
		}()
		next.ServeHTTP(sw, r)
	})
}

// Microversions of the API.
const (
	MinVersion = "1.0"
	MaxVersion = "1.0"
	service    = "vm-monitor"
)

// withMicroversion reads OpenStack-API-Version: vm-monitor X.Y (missing is
// the minimum, "latest" the maximum) and echoes the version served.
func withMicroversion(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "OpenStack-API-Version")
		v := MinVersion
		for _, h := range r.Header.Values("OpenStack-API-Version") {
			for _, part := range strings.Split(h, ",") {
				svc, ver, _ := strings.Cut(strings.TrimSpace(part), " ")
				if !strings.EqualFold(svc, service) {
					continue
				}
				ver = strings.TrimSpace(ver)
				if ver == "latest" {
					v = MaxVersion
					continue
				}
				major, minor, ok := strings.Cut(ver, ".")
				ma, err1 := strconv.Atoi(major)
				mi, err2 := strconv.Atoi(minor)
				if !ok || err1 != nil || err2 != nil || ma < 0 || mi < 0 {
					fail(w, r, http.StatusBadRequest, "vmmon.microversion.malformed",
						fmt.Sprintf("OpenStack-API-Version %q: expected 'vm-monitor X.Y' or 'vm-monitor latest'", h))
					return
				}
				if compare(ma, mi, MinVersion) < 0 || compare(ma, mi, MaxVersion) > 0 {
					fail(w, r, http.StatusNotAcceptable, "vmmon.microversion.unsupported",
						fmt.Sprintf("version %d.%d is not supported: this vmmon serves %s to %s", ma, mi, MinVersion, MaxVersion))
					return
				}
				v = fmt.Sprintf("%d.%d", ma, mi)
			}
		}
		w.Header().Set("OpenStack-API-Version", service+" "+v)
		next.ServeHTTP(w, r)
	})
}

func compare(ma, mi int, v string) int {
	a, b, _ := strings.Cut(v, ".")
	va, _ := strconv.Atoi(a)
	vb, _ := strconv.Atoi(b)
	switch {
	case ma != va:
		return ma - va
	default:
		return mi - vb
	}
}
