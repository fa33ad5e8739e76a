package transport

import (
	"io"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Recorder counts and times every request and writes its log line, naming the token by id,
// never by value, and the route by its template. It is one function for both ways a request is
// served: Echo's RequestLogger calls it, and so does the list room, whose requests never enter
// Echo — which is why echo-contrib's Prometheus middleware, which sees only Echo's, is not used.
type Recorder struct {
	log      *requestLog // nil without the access log
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	errors   *prometheus.CounterVec

	// The children of a route's counter and histogram, looked up once: resolving label values on
	// every request hashes them and allocates, which cost 8% of Rainbond's list call in process
	// (BenchmarkListRegions). The map is copied on write (a new route, status or method: a few
	// dozen, ever), so that a request reads it without a lock: a read lock's two atomic writes to
	// one cache line, shared by every request on every core, cost more than the lookup itself.
	mu       sync.Mutex // for writers
	children atomic.Pointer[map[routeKey]routeMetrics]
}

type routeKey struct {
	method, route string
	status        int
}

type routeMetrics struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// NewRecorder makes the request metrics and registers them. With accessLog, it writes a line per
// request to log, or straight to lines, when log writes JSON lines there (see requestLog).
func NewRecorder(reg prometheus.Registerer, log *slog.Logger, accessLog bool, lines io.Writer) *Recorder {
	r := &Recorder{
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
	}
	if accessLog {
		r.log = &requestLog{log: log, lines: lines}
	}
	reg.MustRegister(r.requests, r.latency, r.errors)
	for _, kind := range errorKinds {
		r.errors.WithLabelValues(kind)
	}
	r.errors.WithLabelValues(abortedKind)
	r.children.Store(&map[routeKey]routeMetrics{})
	return r
}

var errorKinds = map[int]string{
	400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
	408: "request_timeout", 409: "conflict", 412: "precondition_failed", 413: "payload_too_large", 415: "unsupported_media_type",
	422: "unprocessable", 428: "precondition_required", 429: "rate_limited", 499: "client_closed", 500: "internal", 503: "unavailable",
}

// abortedKind counts responses cut off after they began (a streamed list whose database read
// failed, or whose client stopped reading); their request is counted with the status sent.
const abortedKind = "aborted"

// countError counts an error response by its status.
func (r *Recorder) countError(status int) {
	kind, ok := errorKinds[status]
	if !ok {
		kind = "other"
	}
	r.countKind(kind)
}

func (r *Recorder) countKind(kind string) { r.errors.WithLabelValues(kind).Inc() }

// methodLabel is the method as a label value: any string a client sends as the method must not
// become one, or each would add series to /metrics for good.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return method
	}
	return "other"
}

// Record counts and times a request that began at start and ended, now, with status after size
// bytes of body, and writes its log line. route is the route template that served it ("" for none: "unmatched"), so that
// labels stay a bounded set whatever clients send.
func (r *Recorder) Record(req *http.Request, info *RequestInfo, route string, status int, size int64, start time.Time) {
	elapsed := time.Since(start)
	if route == "" {
		route = "unmatched"
	}
	k := routeKey{methodLabel(req.Method), route, status}
	m, ok := (*r.children.Load())[k]
	if !ok {
		m = r.addChildren(k)
	}
	m.requests.Inc()
	m.latency.Observe(elapsed.Seconds())
	if info.Aborted {
		r.countKind(abortedKind)
	}
	if r.log != nil {
		r.log.write(req, info, route, status, size, start, elapsed)
	}
}

// addChildren resolves the metrics of a new route key and adds them to a copy of the map.
func (r *Recorder) addChildren(k routeKey) routeMetrics {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.children.Load()
	if m, ok := old[k]; ok {
		return m
	}
	m := routeMetrics{r.requests.WithLabelValues(k.method, k.route, strconv.Itoa(k.status)), r.latency.WithLabelValues(k.method, k.route)}
	children := maps.Clone(old)
	children[k] = m
	r.children.Store(&children)
	return m
}
