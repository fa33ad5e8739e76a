package server_test

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/regiond/regiond/internal/server"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
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
func neverStale(c *server.Config) { c.CacheStaleness = time.Hour }

// response is a response as the two paths must agree on it: status, headers but Date, and body,
// with the request id the server made left out of both.
func response(resp *http.Response, body []byte, ownRequestID bool) string {
	h := resp.Header.Clone()
	h.Del("Date")
	if id := h.Get("X-Request-Id"); !ownRequestID && id != "" {
		h.Del("X-Request-Id")
		body = []byte(strings.ReplaceAll(string(body), id, "(request id)"))
	}
	var lines []string
	for name, v := range h {
		lines = append(lines, name+": "+fmt.Sprint(v))
	}
	slices.Sort(lines)
	return fmt.Sprintf("%d\n%s\n\n%s", resp.StatusCode, strings.Join(lines, "\n"), body)
}

// TestListRoomMatchesTheRoute: Rainbond's bare list answered by the list room, before Echo, is the
// very response Echo's route gives — status, headers and bytes, but the request ids each server
// makes — whatever the outcome: the list for callers with and without regions:secrets (the first
// request of a token and later ones), 304, 400, 401, 403, 429, and a list streamed because it is
// too large to keep. The route is a server with tracing on, which the room leaves every request
// to; over the same database the two must agree.
func TestListRoomMatchesTheRoute(t *testing.T) {
	dsn := dbtest.SQLite(t)
	for _, tc := range []struct {
		name   string
		config func(*server.Config)
	}{
		{"snapshot", neverStale},
		{"rate limited", func(c *server.Config) { neverStale(c); c.RateLimit, c.RateBurst = 0.001, 1 }},
		{"streamed", func(c *server.Config) { neverStale(c); c.ListCacheBytes, c.ListChunk = 4096, 3 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			room := apitest.Start(t, dsn, apitest.Options{Server: tc.config})
			route := apitest.Start(t, dsn, apitest.Options{Server: func(c *server.Config) { tc.config(c); c.Tracing = true }})
			if tc.name == "snapshot" {
				for i := 0; i < 8; i++ {
					createRegion(t, room, fmt.Sprintf("room-%d", i))
				}
			}
			reader, writer, probe := room.Token(t, apitest.Enterprise, token.RegionsRead), room.Token(t, apitest.Enterprise, token.RegionsWrite),
				room.Token(t, apitest.Enterprise, token.RegionsRead)
			for _, tok := range []string{reader, writer, probe} {
				route.Secret(tok)
			}
			resp, list := route.Do("GET", "/openapi/v1/regions", probe, "", nil)
			current := resp.Header.Get("ETag")
			if resp.StatusCode != 200 || len(list) < 3 || current == "" {
				t.Fatalf("the list: %d %s", resp.StatusCode, list)
			}
			cases := []struct {
				name         string
				tok          string
				headers      []string
				ownRequestID bool
			}{
				{"reader, first", reader, nil, false},
				{"reader, again", reader, nil, false},
				{"regions:secrets", room.Admin, nil, false},
				{"the caller's request id", reader, []string{"X-Request-ID", "the-callers-id"}, true},
				{"If-None-Match, current", reader, []string{"If-None-Match", current}, false},
				{"If-None-Match, another", reader, []string{"If-None-Match", `"lother", W/"r1"`}, false},
				{"If-None-Match, too long", reader, []string{"If-None-Match", strings.Repeat("x", 2000)}, false},
				{"no token", "", nil, false},
				{"an unknown token", token.NewSecret(), nil, false},
				{"no regions:read", writer, nil, false},
			}
			before := fastPathHits(t, room)
			for _, c := range cases {
				a, aBody := room.Do("GET", "/openapi/v1/regions", c.tok, "", nil, c.headers...)
				b, bBody := route.Do("GET", "/openapi/v1/regions", c.tok, "", nil, c.headers...)
				if got, want := response(a, aBody, c.ownRequestID), response(b, bBody, c.ownRequestID); got != want {
					t.Errorf("%s: the room and the route differ:\n--- room\n%.800s\n--- route\n%.800s", c.name, got, want)
				}
			}
			if got := fastPathHits(t, room) - before; got != len(cases) {
				t.Fatalf("the room took %d of %d bare lists", got, len(cases))
			}
			if fastPathHits(t, route) != 0 {
				t.Fatal("with tracing on, the room took a request")
			}
		})
	}
	// With CORS configured, the route (which adds the CORS headers) answers every request.
	cors := apitest.Start(t, dbtest.SQLite(t), apitest.Options{Server: func(c *server.Config) {
		neverStale(c)
		c.CORSOrigins = []string{"https://x.example.com"}
	}})
	cors.Do("GET", "/openapi/v1/regions", cors.Admin, "", nil)
	if resp, _ := cors.Do("GET", "/openapi/v1/regions", cors.Admin, "", nil, "Origin", "https://x.example.com"); resp.Header.Get("Access-Control-Allow-Origin") == "" || fastPathHits(t, cors) != 0 {
		t.Fatal("with CORS on, the room took a request")
	}
}
