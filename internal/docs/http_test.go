package docs_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/regiond/regiond"
	"github.com/regiond/regiond/internal/server"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
)

// basePaths are the ways the docs are served: at the root and under a prefix.
var basePaths = []struct{ name, basePath string }{{"root", ""}, {"base-path", "/regiond"}}

// get fetches a URL without following redirects and without Go's transparent gzip (headers go
// as given), through the client that checks responses against the spec.
func get(t *testing.T, e *apitest.Env, url string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	c := e.HTTPClient()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

var strongETag = regexp.MustCompile(`^"[\x21\x23-\x7e]+"$`)

// checkCached asserts that a document can be kept but must be revalidated, and that
// revalidation works: 304 for its ETag (also weakened by a proxy, or in a list), 200 for another.
func checkCached(t *testing.T, e *apitest.Env, url string, resp *http.Response, headers ...string) {
	t.Helper()
	etag := resp.Header.Get("ETag")
	if !strongETag.MatchString(etag) {
		t.Errorf("%s: ETag %q is not a strong entity tag", url, etag)
	}
	if got := resp.Header.Get("Cache-Control"); got != "public, no-cache" {
		t.Errorf("%s: Cache-Control %q, want %q", url, got, "public, no-cache")
	}
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		r, body := get(t, e, url, append(headers, "If-None-Match", inm)...)
		if r.StatusCode != http.StatusNotModified || len(body) > 0 {
			t.Errorf("%s with If-None-Match: %s: %d with %d bytes, want 304 and no body", url, inm, r.StatusCode, len(body))
		}
		if r.Header.Get("ETag") != etag {
			t.Errorf("%s: the 304 carries ETag %q, want %q", url, r.Header.Get("ETag"), etag)
		}
	}
	if r, _ := get(t, e, url, append(headers, "If-None-Match", `"stale"`)...); r.StatusCode != http.StatusOK {
		t.Errorf("%s with a stale If-None-Match: %d, want 200", url, r.StatusCode)
	}
}

// TestSpecDocuments: /openapi.yaml and /openapi.json are openapi.yaml, unchanged but for
// `servers`, which names the server's base path, with the right media types and validators.
func TestSpecDocuments(t *testing.T) {
	for _, tc := range basePaths {
		t.Run(tc.name, func(t *testing.T) {
			e := apitest.Start(t, dbtest.SQLite(t), apitest.Options{Server: func(c *server.Config) { c.BasePath = tc.basePath }})
			wantServer := tc.basePath
			if wantServer == "" {
				wantServer = "/"
			}

			yamlResp, yamlBody := get(t, e, e.URL+"/openapi.yaml")
			jsonResp, jsonBody := get(t, e, e.URL+"/openapi.json")
			for _, c := range []struct {
				resp *http.Response
				want string
			}{{yamlResp, "application/yaml; charset=utf-8"}, {jsonResp, "application/json; charset=utf-8"}} {
				if c.resp.StatusCode != http.StatusOK {
					t.Fatalf("%s: %d", c.resp.Request.URL, c.resp.StatusCode)
				}
				if got := c.resp.Header.Get("Content-Type"); got != c.want {
					t.Errorf("%s: Content-Type %q, want %q", c.resp.Request.URL, got, c.want)
				}
				checkCached(t, e, c.resp.Request.URL.String(), c.resp)
			}
			if yamlResp.Header.Get("ETag") == jsonResp.Header.Get("ETag") {
				t.Error("openapi.yaml and openapi.json share an ETag")
			}

			var fromYAML, fromJSON map[string]any
			if err := yaml.Unmarshal(yamlBody, &fromYAML); err != nil {
				t.Fatalf("openapi.yaml does not parse as YAML: %v", err)
			}
			if err := json.Unmarshal(jsonBody, &fromJSON); err != nil {
				t.Fatalf("openapi.json does not parse as JSON: %v", err)
			}
			fromYAML = jsonRoundTrip(t, fromYAML)
			if !reflect.DeepEqual(fromYAML, fromJSON) {
				t.Error("openapi.yaml and openapi.json describe different documents")
			}
			servers, _ := fromJSON["servers"].([]any)
			if len(servers) != 1 || servers[0].(map[string]any)["url"] != wantServer {
				t.Errorf("servers is %v, want one server with url %q", fromJSON["servers"], wantServer)
			}

			// Everything else is the repository's openapi.yaml.
			var source map[string]any
			if err := yaml.Unmarshal(regiond.OpenAPI, &source); err != nil {
				t.Fatal(err)
			}
			source = jsonRoundTrip(t, source)
			delete(source, "servers")
			delete(fromJSON, "servers")
			if !reflect.DeepEqual(source, fromJSON) {
				t.Error("the served document differs from openapi.yaml beyond servers")
			}

			// Compressed for clients that take it, and the same document.
			resp, gz := get(t, e, e.URL+"/openapi.json", "Accept-Encoding", "gzip, deflate, br")
			if got := resp.Header.Get("Content-Encoding"); got != "gzip" {
				t.Fatalf("openapi.json with Accept-Encoding: gzip has Content-Encoding %q", got)
			}
			if got := gunzip(t, gz); !bytes.Equal(got, jsonBody) {
				t.Error("the gzipped openapi.json is not openapi.json")
			}
			checkCached(t, e, e.URL+"/openapi.json", resp, "Accept-Encoding", "gzip")
			if resp.Header.Get("ETag") == jsonResp.Header.Get("ETag") {
				t.Error("the gzipped and the identity openapi.json share a strong ETag")
			}
		})
	}
}

// TestDocsPage: /docs redirects to /docs/, a page that runs only the server's own scripts and
// loads the spec the server serves.
func TestDocsPage(t *testing.T) {
	for _, tc := range basePaths {
		t.Run(tc.name, func(t *testing.T) {
			e := apitest.Start(t, dbtest.SQLite(t), apitest.Options{Server: func(c *server.Config) { c.BasePath = tc.basePath }})

			resp, _ := get(t, e, e.URL+"/docs")
			if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != tc.basePath+"/docs/" {
				t.Errorf("/docs: %d to %q, want 301 to %q", resp.StatusCode, resp.Header.Get("Location"), tc.basePath+"/docs/")
			}

			resp, page := get(t, e, e.URL+"/docs/")
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Fatalf("/docs/: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			checkCached(t, e, e.URL+"/docs/", resp)
			csp := map[string][]string{}
			for _, d := range strings.Split(resp.Header.Get("Content-Security-Policy"), ";") {
				if f := strings.Fields(d); len(f) > 0 {
					csp[f[0]] = f[1:]
				}
			}
			if got := csp["script-src"]; !reflect.DeepEqual(got, []string{"'self'"}) {
				t.Errorf("script-src is %q, want only 'self'; CSP: %s", got, resp.Header.Get("Content-Security-Policy"))
			}
			if got := csp["frame-ancestors"]; !reflect.DeepEqual(got, []string{"'none'"}) {
				t.Errorf("frame-ancestors is %q, want 'none'", got)
			}
			// Every script is a file of the server's: none inline.
			scripts := regexp.MustCompile(`(?s)<script([^>]*)>(.*?)</script>`).FindAllStringSubmatch(string(page), -1)
			if len(scripts) == 0 {
				t.Fatal("the page has no scripts")
			}
			for _, s := range scripts {
				if !strings.Contains(s[1], `src="`) || strings.TrimSpace(s[2]) != "" {
					t.Errorf("inline script in the page: %s", s[0])
				}
			}
			if want := `data-spec-url="` + tc.basePath + `/openapi.json"`; !strings.Contains(string(page), want) {
				t.Errorf("the page does not load the spec with %s", want)
			}
		})
	}
}

// TestDocsAssets: Swagger UI's files and the page's own are served with their media types,
// gzipped to clients that take gzip, and revalidated like the spec.
func TestDocsAssets(t *testing.T) {
	for _, tc := range basePaths {
		t.Run(tc.name, func(t *testing.T) {
			e := apitest.Start(t, dbtest.SQLite(t), apitest.Options{Server: func(c *server.Config) { c.BasePath = tc.basePath }})
			for _, a := range []struct {
				name, contentType string
				gzip              bool
				contains          string
			}{
				{"swagger-ui-bundle.js", "text/javascript; charset=utf-8", true, "SwaggerUIBundle"},
				{"swagger-ui-standalone-preset.js", "text/javascript; charset=utf-8", true, "SwaggerUIStandalonePreset"},
				{"swagger-ui.css", "text/css; charset=utf-8", true, ".swagger-ui"},
				{"init.js", "text/javascript; charset=utf-8", true, "SwaggerUIBundle("},
				{"docs.css", "text/css; charset=utf-8", false, "body"},
				{"favicon-32x32.png", "image/png", false, "\x89PNG"},
			} {
				url := e.URL + "/docs/" + a.name
				plainResp, plain := get(t, e, url)
				if plainResp.StatusCode != http.StatusOK {
					t.Errorf("%s: %d", url, plainResp.StatusCode)
					continue
				}
				if got := plainResp.Header.Get("Content-Type"); got != a.contentType {
					t.Errorf("%s: Content-Type %q, want %q", url, got, a.contentType)
				}
				if enc := plainResp.Header.Get("Content-Encoding"); enc != "" {
					t.Errorf("%s without Accept-Encoding: Content-Encoding %q", url, enc)
				}
				if !strings.Contains(string(plain), a.contains) {
					t.Errorf("%s does not contain %q", url, a.contains)
				}
				checkCached(t, e, url, plainResp)

				gzResp, gz := get(t, e, url, "Accept-Encoding", "gzip, deflate, br, zstd")
				if !a.gzip {
					if enc := gzResp.Header.Get("Content-Encoding"); enc != "" || !bytes.Equal(gz, plain) {
						t.Errorf("%s: gzipped (%q) although that saves nothing", url, enc)
					}
					continue
				}
				if got := gzResp.Header.Get("Content-Encoding"); got != "gzip" {
					t.Errorf("%s with Accept-Encoding: gzip: Content-Encoding %q", url, got)
					continue
				}
				if got := gzResp.Header.Get("Content-Type"); got != a.contentType {
					t.Errorf("%s gzipped: Content-Type %q, want %q", url, got, a.contentType)
				}
				for _, r := range []*http.Response{plainResp, gzResp} {
					if got := r.Header.Values("Vary"); !reflect.DeepEqual(got, []string{"Accept-Encoding"}) {
						t.Errorf("%s: Vary %q, want Accept-Encoding", url, got)
					}
				}
				if !bytes.Equal(gunzip(t, gz), plain) {
					t.Errorf("%s: the gzipped body is not the file", url)
				}
				checkCached(t, e, url, gzResp, "Accept-Encoding", "gzip")
				// gzip refused explicitly, even when anything else goes.
				if r, _ := get(t, e, url, "Accept-Encoding", "gzip;q=0, *"); r.Header.Get("Content-Encoding") != "" {
					t.Errorf("%s with gzip;q=0: Content-Encoding %q", url, r.Header.Get("Content-Encoding"))
				}
			}
			// Other paths under /docs/ are the API's ordinary 404 (problem+json, checked by the client).
			if r, _ := get(t, e, e.URL+"/docs/oauth2-redirect.html"); r.StatusCode != http.StatusNotFound {
				t.Errorf("/docs/oauth2-redirect.html: %d, want 404", r.StatusCode)
			}
		})
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// jsonRoundTrip makes a decoded YAML document comparable with a decoded JSON one (numbers
// become float64).
func jsonRoundTrip(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
