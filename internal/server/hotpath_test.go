package server_test

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/regiond/regiond/internal/apitest"
	"github.com/regiond/regiond/internal/dbtest"
	"github.com/regiond/regiond/internal/server"
	"github.com/regiond/regiond/internal/token"
)

var fastPathCount = regexp.MustCompile(`(?m)^regiond_list_fast_path_total (\d+)$`)

func fastPathHits(t *testing.T, e *apitest.Env) int {
	t.Helper()
	_, body := e.Do("GET", "/metrics", "", "", nil)
	m := fastPathCount.FindSubmatch(body)
	if m == nil {
		t.Fatal("no regiond_list_fast_path_total in /metrics")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// neverStale sets a staleness bound no test outlives: cached tokens and lists stay servable.
func neverStale(c *server.Config) { c.Staleness = time.Hour }

// TestFastPathMatchesTheRoute: the bare list answered before Echo (hotpath.go) is the very same
// response the Echo route gives — status, headers and bytes — for callers with and without
// regions:secrets; and every case the fast path does not take still gets the route's answer.
//
// The staleness bound is an hour: the fast path serves only what is cached within it, and the
// test's requests must be served from the cache however slowly a busy machine runs them.
func TestFastPathMatchesTheRoute(t *testing.T) {
	e := apitest.Start(t, dbtest.SQLite(t), apitest.Options{Server: neverStale})
	for i := 0; i < 5; i++ {
		createRegion(t, e, fmt.Sprintf("fast-%d", i))
	}
	for _, tok := range []string{e.Token(t, apitest.Enterprise, token.RegionsRead), e.Admin} {
		before := fastPathHits(t, e)
		// The token's first request authenticates against the database: the Echo route answers it.
		routed, routedBody := e.Do("GET", "/openapi/v1/regions", tok, "", nil)
		if fastPathHits(t, e) != before {
			t.Fatal("a token not yet cached took the fast path")
		}
		fast, fastBody := e.Do("GET", "/openapi/v1/regions", tok, "", nil)
		if fastPathHits(t, e) != before+1 {
			t.Fatal("the second request did not take the fast path")
		}
		if routed.StatusCode != 200 || fast.StatusCode != 200 || string(routedBody) != string(fastBody) {
			t.Fatalf("bodies differ: %d %d", routed.StatusCode, fast.StatusCode)
		}
		for _, h := range []http.Header{routed.Header, fast.Header} {
			h.Del("Date")
			h.Del("X-Request-Id")
		}
		keys := func(h http.Header) []string {
			var k []string
			for name, v := range h {
				k = append(k, name+": "+fmt.Sprint(v))
			}
			slices.Sort(k)
			return k
		}
		if !slices.Equal(keys(routed.Header), keys(fast.Header)) {
			t.Fatalf("headers differ:\nroute: %v\nfast:  %v", keys(routed.Header), keys(fast.Header))
		}
	}
	// Not taken: If-None-Match, a query, a token without regions:read, a body; the route answers.
	before := fastPathHits(t, e)
	resp, _ := e.Do("GET", "/openapi/v1/regions", e.Admin, "", nil)
	if resp, _ := e.Do("GET", "/openapi/v1/regions", e.Admin, "", nil, "If-None-Match", resp.Header.Get("ETag")); resp.StatusCode != 304 {
		t.Fatalf("If-None-Match: %d", resp.StatusCode)
	}
	if resp, _ := e.Do("GET", "/openapi/v1/regions?limit=2", e.Admin, "", nil); resp.StatusCode != 200 || resp.Header.Get("Link") == "" {
		t.Fatalf("a paged list: %d", resp.StatusCode)
	}
	writer := e.Token(t, apitest.Enterprise, token.RegionsWrite)
	e.Do("GET", "/openapi/v1/regions", writer, "", nil)
	if resp, body := e.Do("GET", "/openapi/v1/regions", writer, "", nil); resp.StatusCode != 403 {
		t.Fatalf("a cached token without regions:read: %d %s", resp.StatusCode, body)
	}
	if got := fastPathHits(t, e); got != before+1 {
		t.Fatalf("the fast path took %d of these requests, want only the first", got-before)
	}
	// With CORS configured, the route (which adds the CORS headers) answers every request.
	cors := apitest.Start(t, dbtest.SQLite(t), apitest.Options{Server: func(c *server.Config) {
		neverStale(c)
		c.CORSOrigins = []string{"https://x.example.com"}
	}})
	cors.Do("GET", "/openapi/v1/regions", cors.Admin, "", nil)
	if resp, _ := cors.Do("GET", "/openapi/v1/regions", cors.Admin, "", nil, "Origin", "https://x.example.com"); resp.Header.Get("Access-Control-Allow-Origin") == "" || fastPathHits(t, cors) != 0 {
		t.Fatal("a CORS request took the fast path")
	}
}
