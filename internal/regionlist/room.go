// Package regionlist is the list room: everything that exists for the speed of Rainbond's list
// call, GET /openapi/v1/regions — platform tooling polls it, so it is the hottest call of the
// service — lives here, behind Room.
//
//	server.Handler ── Takes(r)? ── yes ──► ServeHTTP: the bare list, whole, before Echo
//	      │                                 (transport: id, headers, token, validation, log)
//	      no                                               │
//	      ▼                                                ▼
//	    Echo ──► handlers.ListRegions ──────────────────► List
//	                                                       │
//	        ┌──────────────────────────────┬───────────────┴──────────────┐
//	        ▼                              ▼                              ▼
//	  bare list: the snapshot       filtered, or too large        paged (limit, page_token):
//	  (cache.go), built on a miss   to keep: streamed in          one page read after the
//	  from one store.View, kept     chunks (stream.go), each      last one's name, its total
//	  while its generation is       read, its connection          counted once a generation
//	  current                       released, then written        (page.go)
//	        ▲
//	  Run polls every enterprise's generation (other replicas' writes);
//	  Wrote records this replica's writes at once.
//
// A snapshot is served only while the newest generation this replica knows of is the one it was
// built at, and only while the last successful poll is within the staleness bound: no replica
// serves a list older than that bound.
package regionlist

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/config"
	"github.com/regiond/regiond/internal/convert"
	"github.com/regiond/regiond/internal/etag"
	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/token"
	"github.com/regiond/regiond/internal/transport"
)

// Room answers region lists.
type Room struct {
	store     *store.Store
	settings  config.API
	validator *transport.Validator
	errors    *transport.Errors
	recorder  *transport.Recorder
	pages     transport.Pages
	log       *slog.Logger
	cache     *cache
	streams   *streamLimiter
	path      string // the list's path, which is also its route template
	takes     bool
	taken     prometheus.Counter
}

// Options are what a Room is built from.
type Options struct {
	Store     *store.Store
	Settings  config.API
	Validator *transport.Validator
	Errors    *transport.Errors
	Recorder  *transport.Recorder
	Pages     transport.Pages
	Log       *slog.Logger
	Registry  prometheus.Registerer
	// TakeBareLists lets the room answer the bare list before Echo: not with tracing or CORS on,
	// whose middleware then sees every request.
	TakeBareLists bool
}

// New makes the room and registers its metrics.
func New(o Options) *Room {
	r := &Room{store: o.Store, settings: o.Settings, validator: o.Validator, errors: o.Errors, recorder: o.Recorder,
		pages: o.Pages, log: o.Log, cache: newCache(o.Settings.ListCacheBytes, o.Settings.CacheStaleness),
		streams: newStreamLimiter(o.Settings.MaxListStreamsPerToken, o.Settings.MaxListStreams),
		path:    o.Settings.BasePath + "/openapi/v1/regions", takes: o.TakeBareLists,
		taken: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "regiond_list_fast_path_total", Help: "Bare region lists answered by the list room, before Echo's routing.",
		}),
	}
	stats := &r.cache.Stats
	counter := func(name, help string, n *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(n.Load()) })
	}
	o.Registry.MustRegister(r.taken,
		counter("regiond_list_cache_hits_total", "Region lists served from the pre-encoded cache.", &stats.Hits),
		counter("regiond_list_cache_misses_total", "Region list requests the cache could not serve.", &stats.Misses),
		counter("regiond_list_cache_builds_total", "Pre-encoded region lists built.", &stats.Builds),
		counter("regiond_list_cache_evictions_total", "Pre-encoded region lists evicted to stay within the memory budget.", &stats.Evictions),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "regiond_list_cache_bytes", Help: "Memory held by pre-encoded region lists."},
			func() float64 { return float64(r.cache.Bytes()) }),
	)
	return r
}

// Takes reports whether the room answers r before Echo: Rainbond's bare list — GET (or HEAD) of
// the list path with no query and no body — a syntactic decision, made before any routing.
func (room *Room) Takes(r *http.Request) bool {
	return room.takes && (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Path == room.path && r.URL.RawQuery == "" &&
		r.ContentLength == 0 && len(r.TransferEncoding) == 0
}

// ServeHTTP answers a request the room Takes, the whole of it, with the same transport functions
// Echo's route uses, so that the bytes are the same: the request id and security headers, the
// caller (token, rate limit, scopes) and the request's validation, the list or its problem, then
// the log line and the metrics.
func (room *Room) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	x := transport.WithRequestInfo(w, r)
	status := room.serveBare(x, r)
	info := x.Info()
	room.recorder.Record(r, info, room.path, status, x.Writer.Size, start)
	room.taken.Inc()
	if info.Abandoned || info.Aborted {
		panic(http.ErrAbortHandler) // as transport.Track does on Echo's side
	}
}

// serveBare writes the bare list, or its problem, and returns the status it began with.
func (room *Room) serveBare(x *transport.Exchange, r *http.Request) (status int) {
	w, ctx := &x.Writer, x.Context()
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			r := x.Request(r)
			status = room.errors.Write(w, r, room.errors.Recovered(r, v, debug.Stack()), room.path)
		}
	}()
	if _, err := room.validator.Check(ctx, r, room.path, nil, nil); err != nil {
		return room.errors.Write(w, x.Request(r), err, room.path)
	}
	var params api.ListRegionsParams
	if v, ok := r.Header["If-None-Match"]; ok && len(v) > 0 {
		params.IfNoneMatch = &v[0]
	}
	resp, err := room.List(ctx, transport.Principal(ctx), params)
	if err == nil {
		err = resp.VisitListRegionsResponse(w)
	}
	if err != nil && w.Status == 0 { // else the response has begun: it stands, or was aborted
		return room.errors.Write(w, x.Request(r), err, room.path)
	}
	return w.Status
}

// List answers a list request: the bare list from the snapshot, or streamed when it is too large
// to keep; a filtered list streamed; a paged list a page at a time.
func (room *Room) List(ctx context.Context, p token.Principal, params api.ListRegionsParams) (api.ListRegionsResponseObject, error) {
	v := convert.ListView(p)
	q := store.RegionQuery{EnterpriseID: p.EnterpriseID, Reading: v.Reading}
	if params.Q != nil {
		q.Text = *params.Q
	}
	if params.Status != nil {
		for _, st := range *params.Status {
			q.Statuses = append(q.Statuses, region.Status(st))
		}
		slices.Sort(q.Statuses)
		q.Statuses = slices.Compact(q.Statuses)
	}
	if params.Scope != nil {
		q.Scope = region.Scope(*params.Scope)
	}
	paged := params.Limit != nil || params.PageToken != nil
	if !paged && len(q.Statuses) == 0 && q.Scope == "" && q.Text == "" {
		k := key{Enterprise: p.EnterpriseID, View: v.Name}
		e, err := room.cache.Load(k, func() (*entry, error) { return room.build(ctx, k, q, v) })
		if err != nil {
			return nil, err
		}
		if !e.TooLarge() {
			if params.IfNoneMatch != nil && etag.NoneMatch(*params.IfNoneMatch, e.ETag) {
				return api.ListRegions304Response{Headers: api.NotModifiedResponseHeaders{ETag: &e.ETag}}, nil
			}
			return (*cachedList)(e), nil // a pointer: returning it allocates nothing
		}
	}
	// The query, less what may change from page to page: a page token is only good for it.
	statuses := make([]string, len(q.Statuses))
	for i, st := range q.Statuses {
		statuses[i] = string(st)
	}
	fingerprint := etag.Hash("regions", p.EnterpriseID, v.Name, string(q.Scope), q.Text, strings.Join(statuses, ","))
	if paged {
		return room.page(ctx, q, v, fingerprint, params)
	}
	return &streamedList{room: room, ctx: ctx, q: q, v: v, tokenID: p.TokenID, fingerprint: fingerprint, ifNoneMatch: params.IfNoneMatch}, nil
}

// Wrote records a write on this replica that brought an enterprise to generation gen: its lists
// built before are not served again.
func (room *Room) Wrote(enterprise string, gen int64) { room.cache.Observe(enterprise, gen) }

// Fresh reports whether the generations were polled recently enough for snapshots to be served.
func (room *Room) Fresh() bool { return room.cache.Fresh() }

// Run polls the database for every enterprise's generation until ctx ends, every quarter of the
// staleness bound, so that writes on other replicas are seen within it.
func (room *Room) Run(ctx context.Context) {
	room.cache.Run(ctx, room.store.Generations, func(err error) {
		room.log.Warn("polling list generations failed; cached lists are bypassed until it succeeds", "error", err)
	})
}

func listETag(enterprise string, gen int64, parts ...string) string {
	return convert.ListETag(append([]string{enterprise, strconv.FormatInt(gen, 10)}, parts...)...)
}
