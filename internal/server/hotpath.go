package server

import (
	"net/http"
	"time"

	"github.com/regiond/regiond/internal/listcache"
	"github.com/regiond/regiond/internal/token"
)

// serveHTTP takes the seed's call — GET /openapi/v1/regions with no query — before Echo when
// the answer is a cached list the caller may read, and hands every other request to Echo.
//
// The bare list is the hottest call of the service (platform tooling polls it), and at tens of
// thousands of requests a second Echo's per-request work (routing, a middleware chain built anew,
// the generated wrapper binding five absent parameters by reflection) cost about a tenth of the
// throughput. The shortcut does what the ordinary route does for this one answer, with the same
// pieces: begin (request id, security headers), the authenticator, the rate limiter, the scope
// check, the cached entry, the same response writer, finish (metrics, log). Every other outcome —
// no or bad token, a token not yet cached, a rate limit, a missing scope, If-None-Match, a list
// not cached — falls through to Echo, which answers it, errors included, the one way it always
// does. With tracing or CORS on, every request takes the ordinary route.
//
// While the process shuts down, every response says Connection: close: a client holding a
// keep-alive connection moves to another replica on its next request, told to, rather than finding
// the connection closed under it when the drain ends.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		w.Header()["Connection"] = connectionClose
	}
	if r.Method == http.MethodGet && r.URL.Path == s.listPath && r.URL.RawQuery == "" && s.hotPath && s.serveCachedList(w, r) {
		return
	}
	s.echo.ServeHTTP(w, r)
}

var connectionClose = []string{"close"}

func (s *Server) serveCachedList(w http.ResponseWriter, r *http.Request) bool {
	if r.ContentLength != 0 || r.Header["If-None-Match"] != nil {
		return false
	}
	start := time.Now()
	p, ok := s.auth.cached(r.Header.Get("Authorization"))
	if !ok || !p.Has(token.RegionsRead) {
		return false
	}
	v := listView(p)
	e := s.cache.Get(listcache.Key{Enterprise: p.EnterpriseID, View: v.name})
	if e == nil || e.TooLarge() || s.limiter.allow(p.TokenID) != nil {
		return false
	}
	h := w.Header()
	cl, r := s.begin(r, h)
	cl.principal = p
	if v == hiddenView {
		h["Cache-Control"] = privateNoCache // as the gate sets for region reads without TLS material
	}
	err := (*cachedList)(e).VisitListRegionsResponse(w)
	if err != nil {
		s.log.Debug("writing a cached list failed", "request_id", cl.requestID, "error", err)
	}
	s.finish(r, cl, s.listRoute, http.StatusOK, int64(len(e.Body)), time.Since(start))
	s.metrics.fastPath.Inc()
	return true
}
