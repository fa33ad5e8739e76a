package server_test

import (
	"bufio"
	"context"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/apispec"
	"github.com/regiond/regiond/internal/server"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
)

// TestHeadAnswersAsGet: HEAD is served wherever GET is (RFC 9110 9.3.2) — every GET path of
// openapi.yaml, the docs and /metrics, on the list room's bare list and on Echo's routes — with
// the status and headers the GET gets (but Date and X-Request-Id) and no body: for a caller, for
// a caller without a token, for a stale and a current If-None-Match, for an id that does not exist.
func TestHeadAnswersAsGet(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts apitest.Options
	}{
		{"list room", apitest.Options{}},
		// With CORS on, the room takes nothing: Echo routes the bare list too.
		{"echo only", apitest.Options{Server: func(c *server.Config) { c.CORSOrigins = []string{"https://console.example.com"} }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := apitest.Start(t, dbtest.SQLite(t), tc.opts)
			regionID, _ := createRegion(t, e, "rainbond-head")
			tokens, err := e.Client(e.Admin).ListTokensWithResponse(context.Background(), &api.ListTokensParams{})
			if err != nil || tokens.JSON200 == nil || len(*tokens.JSON200) == 0 {
				t.Fatalf("listing tokens: %v", err)
			}
			tokenID := (*tokens.JSON200)[0].Id
			spec, err := apispec.Load()
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, route := range apispec.Routes(spec) {
				if route.Method != http.MethodGet {
					continue
				}
				ids := strings.NewReplacer("{region_id}", regionID, "{token_id}", tokenID)
				missing := strings.NewReplacer("{region_id}", "00000000-0000-4000-8000-000000000000", "{token_id}", "tok_missing")
				paths = append(paths, ids.Replace(route.Path))
				if strings.Contains(route.Path, "{") {
					paths = append(paths, missing.Replace(route.Path)) // 404
				}
			}
			paths = append(paths, "/openapi/v1/regions?limit=1", "/openapi/v1/regions?status=1&scope=private",
				"/openapi.yaml", "/openapi.json", "/docs", "/docs/", "/docs/init.js", "/docs/docs.css", "/docs/swagger-ui-bundle.js",
				"/docs/swagger-ui-standalone-preset.js", "/docs/swagger-ui.css", "/docs/favicon-32x32.png", "/docs/favicon-16x16.png",
				"/metrics")
			for _, path := range paths {
				for _, auth := range []string{e.Admin, ""} {
					get, body := rawRequest(t, e, "GET", path, "Authorization", auth)
					if len(body) == 0 && get.StatusCode != http.StatusNoContent && get.StatusCode != http.StatusMovedPermanently {
						t.Fatalf("GET %s answered %d with no body", path, get.StatusCode)
					}
					sameAsGet(t, e, path, get, "Authorization", auth)
					if tag := get.Header.Get("ETag"); tag != "" {
						for _, cond := range []string{tag, `"stale"`} {
							get, _ := rawRequest(t, e, "GET", path, "Authorization", auth, "If-None-Match", cond)
							sameAsGet(t, e, path, get, "Authorization", auth, "If-None-Match", cond)
						}
					}
				}
			}
		})
	}
}

// sameAsGet sends HEAD with the headers of a GET and compares the answers. Through apitest's
// client the HEAD is also checked against the GET operation of openapi.yaml.
func sameAsGet(t *testing.T, e *apitest.Env, path string, get *http.Response, headers ...string) {
	t.Helper()
	head, body := rawRequest(t, e, "HEAD", path, headers...)
	if len(body) > 0 {
		t.Errorf("HEAD %s %v sent a body: %.200q", path, headers, body)
	}
	if head.StatusCode != get.StatusCode {
		t.Errorf("HEAD %s %v: %d, GET: %d", path, headers, head.StatusCode, get.StatusCode)
	}
	for _, h := range [][2]http.Header{{get.Header, head.Header}, {head.Header, get.Header}} {
		for _, name := range slices.Sorted(maps.Keys(h[0])) {
			if name == "Date" || name == "X-Request-Id" {
				continue
			}
			// net/http cannot tell an empty body from a HEAD's dropped one, so it leaves
			// Content-Length out of a HEAD whose GET has none (RFC 9110 8.6 allows that).
			if name == "Content-Length" && get.Header.Get(name) == "0" && len(head.Header.Values(name)) == 0 {
				continue
			}
			if got, want := head.Header.Values(name), get.Header.Values(name); !slices.Equal(got, want) {
				t.Errorf("HEAD %s %v: %s %q, GET: %q", path, headers, name, got, want)
			}
		}
	}
	var extra []string
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] != "" {
			extra = append(extra, headers[i], headers[i+1])
		}
	}
	e.Do("HEAD", path, "", "", nil, extra...)
}

// rawRequest sends one request on its own connection and reads everything the server sends until
// it closes it: for HEAD, what follows the header is a body the server should not have sent.
// Headers with an empty value are left out.
func rawRequest(t *testing.T, e *apitest.Env, method, path string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	var req strings.Builder
	req.WriteString(method + " " + path + " HTTP/1.1\r\nHost: regiond.test\r\nConnection: close\r\n")
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] != "" {
			req.WriteString(headers[i] + ": " + headers[i+1] + "\r\n")
		}
	}
	req.WriteString("\r\n")
	if _, err := conn.Write([]byte(req.String())); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if method == http.MethodHead {
		body, err = io.ReadAll(r) // the response ends at its header
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp, body
}
