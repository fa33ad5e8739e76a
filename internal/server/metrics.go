package server

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics, served at /metrics.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	errors   *prometheus.CounterVec
	fastPath prometheus.Counter

	// The children of a route's counter and histogram, looked up once: resolving label values on
	// every request hashes them and allocates.
	mu     sync.RWMutex
	routes map[routeKey]routeMetrics
}

type routeKey struct {
	method, route string
	status        int
}

type routeMetrics struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

func newMetrics(reg *prometheus.Registry, s *Server) *metrics {
	m := &metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regiond_http_requests_total", Help: "HTTP requests by method, route template and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "regiond_http_request_duration_seconds", Help: "HTTP request latency by method and route template.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regiond_errors_total", Help: "Error responses by kind.",
		}, []string{"kind"}),
		fastPath: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "regiond_list_fast_path_total", Help: "Bare region lists answered before Echo's routing (hotpath.go).",
		}),
		routes: map[routeKey]routeMetrics{},
	}
	stats := &s.cache.Stats
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	lookups := func(result string, n *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "regiond_token_lookups_total",
			Help: "Token lookups that reached the database, by result (found, not_found, error).", ConstLabels: prometheus.Labels{"result": result}},
			func() float64 { return float64(n.Load()) })
	}
	auth := &s.auth.Lookups
	writer, reader := s.store.DBs()
	reg.MustRegister(m.requests, m.latency, m.errors, m.fastPath,
		counter("regiond_list_cache_hits_total", "Region lists served from the pre-encoded cache.", func() float64 { return float64(stats.Hits.Load()) }),
		counter("regiond_list_cache_misses_total", "Region list requests the cache could not serve.", func() float64 { return float64(stats.Misses.Load()) }),
		counter("regiond_list_cache_builds_total", "Pre-encoded region lists built.", func() float64 { return float64(stats.Builds.Load()) }),
		counter("regiond_list_cache_evictions_total", "Pre-encoded region lists evicted to stay within the memory budget.", func() float64 { return float64(stats.Evictions.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "regiond_list_cache_bytes", Help: "Memory held by pre-encoded region lists."},
			func() float64 { return float64(s.cache.Bytes()) }),
		lookups("found", &auth.Found), lookups("not_found", &auth.NotFound), lookups("error", &auth.Failed),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if writer == reader {
		reg.MustRegister(collectors.NewDBStatsCollector(writer, "main"))
	} else {
		reg.MustRegister(collectors.NewDBStatsCollector(writer, "writer"), collectors.NewDBStatsCollector(reader, "reader"))
	}
	for _, kind := range errorKinds {
		m.errors.WithLabelValues(kind)
	}
	m.errors.WithLabelValues(abortedKind)
	return m
}

var errorKinds = map[int]string{
	400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
	408: "request_timeout", 409: "conflict", 412: "precondition_failed", 413: "payload_too_large", 415: "unsupported_media_type",
	422: "unprocessable", 428: "precondition_required", 429: "rate_limited", 499: "client_closed", 500: "internal", 503: "unavailable",
}

// abortedKind counts responses cut off after they began (a streamed list whose database read
// failed, or whose client stopped reading); their request is counted with the status sent.
const abortedKind = "aborted"

func (m *metrics) countError(status int) {
	kind, ok := errorKinds[status]
	if !ok {
		kind = "other"
	}
	m.errors.WithLabelValues(kind).Inc()
}

// methodLabel is the method as a label value: any string a client sends as the method must not
// become one, or each would add series to /metrics for good.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return method
	}
	return "other"
}

func (m *metrics) observe(method, route string, status int, elapsed time.Duration) {
	k := routeKey{methodLabel(method), route, status}
	m.mu.RLock()
	rm, ok := m.routes[k]
	m.mu.RUnlock()
	if !ok {
		// Methods, route templates (Echo's registered routes) and statuses are all bounded.
		rm = routeMetrics{m.requests.WithLabelValues(k.method, route, strconv.Itoa(status)), m.latency.WithLabelValues(k.method, route)}
		m.mu.Lock()
		m.routes[k] = rm
		m.mu.Unlock()
	}
	rm.requests.Inc()
	rm.latency.Observe(elapsed.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
