package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"opendev.org/openstack/vmmon/vmmon/livestream"
)

// metrics are vmmon-api's own figures, served as Prometheus text at /metrics.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry, live *livestream.Hub) *metrics {
	m := &metrics{reg: reg, requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "vmmon_api_request_duration_seconds",
		Help:    "Time to answer API requests, by route (its template), method and status code.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"route", "method", "code"})}
	reg.MustRegister(m.requests)
	if live != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vmmon_api_live_streams", Help: "Live streams open.",
		}, func() float64 { return float64(live.Clients()) }))
	}
	return m
}

// instrument times each routed request under its route's template.
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		sw, ok := w.(*statusWriter)
		if !ok {
			sw = &statusWriter{ResponseWriter: w}
		}
		next.ServeHTTP(sw, r)
		route := "unmatched"
		if cr := mux.CurrentRoute(r); cr != nil {
			if tpl, err := cr.GetPathTemplate(); err == nil {
				route = tpl
			}
		}
		code := sw.status
		if code == 0 {
			code = http.StatusOK
		}
		m.requests.WithLabelValues(route, r.Method, strconv.Itoa(code)).Observe(time.Since(t0).Seconds())
	})
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
