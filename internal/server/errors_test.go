package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/secrets"
	"github.com/regiond/regiond/internal/server"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/testsupport/testpki"
	"github.com/regiond/regiond/internal/token"
)

// problemOf checks that a response is a well-formed problem with this status and returns it.
func problemOf(t *testing.T, resp *http.Response, body []byte, status int) api.Problem {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	var p api.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("not a problem: %v", err)
	}
	if p.Status != status || p.Code != status || p.Msg != p.Detail || p.Detail == "" || p.Title == "" ||
		!strings.HasPrefix(p.Type, "urn:regiond:problem:") || p.Instance == "" || p.RequestId == "" ||
		p.RequestId != resp.Header.Get("X-Request-Id") {
		t.Fatalf("malformed problem: %s", body)
	}
	// What the request itself named (the path's ids, echoed in instance and detail) is not a leak:
	// a random token id can spell "gorm".
	text := string(body)
	for _, seg := range strings.Split(p.Instance, "/") {
		if len(seg) > 8 {
			text = strings.ReplaceAll(text, seg, "")
		}
	}
	for _, leak := range []string{"goroutine", ".go:", "runtime.", "sql:", "gorm", "Error 1"} {
		if strings.Contains(text, leak) {
			t.Fatalf("problem leaks internals (%q): %s", leak, body)
		}
	}
	return p
}

func createRegion(t testing.TB, e *apitest.Env, name string) (id, etag string) {
	t.Helper()
	resp, body := e.Do("POST", "/openapi/v1/regions", e.Admin, "application/json",
		[]byte(`{"region_name":"`+name+`","region_alias":"A","url":"https://`+name+`.example.com"}`))
	if resp.StatusCode != 201 {
		t.Fatalf("create %s: %d %s", name, resp.StatusCode, body)
	}
	var r api.RegionInfoResp
	json.Unmarshal(body, &r)
	return r.RegionId, resp.Header.Get("ETag")
}

// TestErrorStatuses produces every error status the API documents, and checks each is a
// problem+json document with code and msg, the right headers, and no internals.
func TestErrorStatuses(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{Server: func(c *server.Config) { c.BodyLimit = 4096 }})
		id, _ := createRegion(t, e, "err-a")
		reader := e.Token(t, apitest.Enterprise, token.RegionsRead)

		t.Run("400", func(t *testing.T) {
			resp, body := e.Do("POST", "/openapi/v1/regions", e.Admin, "application/json", []byte(`{"region_name":`))
			p := problemOf(t, resp, body, 400)
			if (*p.Errors)[0].Field != "body" {
				t.Fatalf("field: %+v", *p.Errors)
			}
		})
		t.Run("401", func(t *testing.T) {
			resp, body := e.Do("GET", "/openapi/v1/regions", "", "", nil)
			problemOf(t, resp, body, 401)
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("no WWW-Authenticate")
			}
			resp, body = e.Do("GET", "/openapi/v1/regions", "rgd_not-a-real-token", "", nil)
			if p := problemOf(t, resp, body, 401); !strings.Contains(p.Detail, "not valid") || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
				t.Fatalf("bad token: %s / %s", p.Detail, resp.Header.Get("WWW-Authenticate"))
			}
		})
		t.Run("403", func(t *testing.T) {
			resp, body := e.Do("DELETE", "/openapi/v1/regions/"+id, reader, "", nil)
			if p := problemOf(t, resp, body, 403); !strings.Contains(p.Detail, "regions:write") {
				t.Fatalf("403 does not name the scope: %s", p.Detail)
			}
		})
		t.Run("404", func(t *testing.T) {
			resp, body := e.Do("GET", "/openapi/v1/regions/00000000-0000-0000-0000-000000000000", e.Admin, "", nil)
			problemOf(t, resp, body, 404)
			resp, body = e.Do("GET", "/openapi/v1/nothing-here", e.Admin, "", nil)
			problemOf(t, resp, body, 404)
		})
		t.Run("405", func(t *testing.T) {
			resp, body := e.Do("PUT", "/openapi/v1/regions", e.Admin, "application/json", []byte(`{}`))
			problemOf(t, resp, body, 405)
			if !strings.Contains(resp.Header.Get("Allow"), "GET") {
				t.Fatalf("Allow: %q", resp.Header.Get("Allow"))
			}
		})
		t.Run("409", func(t *testing.T) {
			resp, body := e.Do("POST", "/openapi/v1/regions", e.Admin, "application/json", []byte(`{"region_name":"err-a","region_alias":"A","url":"https://x.example.com"}`))
			if p := problemOf(t, resp, body, 409); (*p.Errors)[0].Field != "region_name" {
				t.Fatalf("409 field: %s", body)
			}
		})
		t.Run("412", func(t *testing.T) {
			resp, body := e.Do("PATCH", "/openapi/v1/regions/"+id, e.Admin, "application/merge-patch+json", []byte(`{"desc":"x"}`), "If-Match", `"r99"`)
			problemOf(t, resp, body, 412)
		})
		t.Run("413", func(t *testing.T) {
			big := `{"region_name":"big","region_alias":"A","url":"https://x.example.com","desc":"` + strings.Repeat("x", 5000) + `"}`
			resp, body := e.Do("POST", "/openapi/v1/regions", e.Admin, "application/json", []byte(big))
			problemOf(t, resp, body, 413)
		})
		t.Run("415", func(t *testing.T) {
			resp, body := e.Do("POST", "/openapi/v1/regions", e.Admin, "application/x-www-form-urlencoded", []byte(`region_name=x`))
			problemOf(t, resp, body, 415)
			resp, body = e.Do("PATCH", "/openapi/v1/regions/"+id, e.Admin, "text/plain", []byte(`{"desc":"x"}`))
			if p := problemOf(t, resp, body, 415); !strings.Contains(p.Detail, "application/merge-patch+json") {
				t.Fatalf("415 does not say what is accepted: %s", p.Detail)
			}
		})
		t.Run("422", func(t *testing.T) {
			resp, body := e.Do("POST", "/openapi/v1/regions", e.Admin, "application/json", []byte(`{"region_name":"bad-url","region_alias":"A","url":"ftp://x.example.com"}`))
			if p := problemOf(t, resp, body, 422); (*p.Errors)[0].Field != "url" {
				t.Fatalf("422 field: %s", body)
			}
		})
		t.Run("428", func(t *testing.T) {
			strict := apitest.Start(t, dbtest.Fresh(t, dsn), apitest.Options{Server: func(c *server.Config) { c.RequireIfMatch = true }})
			sid, etag := createRegion(t, strict, "strict")
			resp, body := strict.Do("DELETE", "/openapi/v1/regions/"+sid, strict.Admin, "", nil)
			problemOf(t, resp, body, 428)
			if resp, _ := strict.Do("DELETE", "/openapi/v1/regions/"+sid, strict.Admin, "", nil, "If-Match", etag); resp.StatusCode != 204 {
				t.Fatalf("with If-Match: %d", resp.StatusCode)
			}
		})
		t.Run("429", func(t *testing.T) {
			limited := apitest.Start(t, dbtest.Fresh(t, dsn), apitest.Options{Server: func(c *server.Config) { c.RateLimit, c.RateBurst = 1, 3 }})
			codes := ""
			var last *http.Response
			var lastBody []byte
			for i := 0; i < 5; i++ {
				last, lastBody = limited.Do("GET", "/openapi/v1/regions", limited.Admin, "", nil)
				codes += strconv.Itoa(last.StatusCode) + " "
			}
			if codes != "200 200 200 429 429 " {
				t.Fatalf("statuses with burst 3: %s", codes)
			}
			problemOf(t, last, lastBody, 429)
			if ra, err := strconv.Atoi(last.Header.Get("Retry-After")); err != nil || ra < 1 {
				t.Fatalf("Retry-After %q", last.Header.Get("Retry-After"))
			}
			// The limit is per token: another token is not affected.
			other := limited.Token(t, apitest.Enterprise, token.RegionsRead)
			if resp, _ := limited.Do("GET", "/openapi/v1/regions", other, "", nil); resp.StatusCode != 200 {
				t.Fatalf("another token: %d", resp.StatusCode)
			}
		})
		t.Run("500", func(t *testing.T) {
			// A key_file written under one key, read by a server configured with another.
			fresh := dbtest.Fresh(t, dsn)
			k1, _ := secrets.Parse(secrets.GenerateKey())
			k2, _ := secrets.Parse(secrets.GenerateKey())
			writer := apitest.Start(t, fresh, apitest.Options{Keyring: k1})
			cert, key := testpki.Pair(t, "500")
			b, _ := json.Marshal(map[string]any{"region_name": "wrong-key", "region_alias": "A", "url": "https://x.example.com", "cert_file": cert, "key_file": key})
			resp, body := writer.Do("POST", "/openapi/v1/regions", writer.Admin, "application/json", b)
			if resp.StatusCode != 201 {
				t.Fatalf("create: %d %s", resp.StatusCode, body)
			}
			var r api.RegionInfoResp
			json.Unmarshal(body, &r)
			reader := apitest.Start(t, fresh, apitest.Options{Keyring: k2})
			resp, body = reader.Do("GET", "/openapi/v1/regions/"+r.RegionId, reader.Admin, "", nil)
			p := problemOf(t, resp, body, 500)
			if strings.Contains(string(body), "BEGIN") || !strings.Contains(p.Detail, "encryption key") {
				t.Fatalf("500: %s", body)
			}
			if !strings.Contains(reader.Logs.String(), "request failed") {
				t.Fatal("a 500 was not logged")
			}
		})
		t.Run("503", func(t *testing.T) {
			down := apitest.Start(t, dbtest.Fresh(t, dsn), apitest.Options{})
			admin := down.Admin
			down.Store.Close() // the database goes away
			resp, body := down.Do("POST", "/openapi/v1/regions", admin, "application/json", []byte(`{"region_name":"x","region_alias":"A","url":"https://x.example.com"}`))
			problemOf(t, resp, body, 503)
			if resp.Header.Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
			resp, body = down.Do("GET", "/readyz", "", "", nil)
			problemOf(t, resp, body, 503)
			if resp, _ := down.Do("GET", "/healthz", "", "", nil); resp.StatusCode != 200 {
				t.Fatalf("healthz while the database is down: %d", resp.StatusCode)
			}
		})
	})
}

// TestBadInput sends a table of bad requests: each gets a 4xx problem naming the field, and the
// database is byte-for-byte unchanged afterwards.
func TestBadInput(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{})
		id, _ := createRegion(t, e, "bad-base")
		cert, key := testpki.Pair(t, "bad")
		otherCert, _ := testpki.Pair(t, "other")
		js := func(m map[string]any) []byte { b, _ := json.Marshal(m); return b }
		valid := func(extra map[string]any) []byte {
			m := map[string]any{"region_name": "bad-new", "region_alias": "A", "url": "https://bad.example.com"}
			for k, v := range extra {
				m[k] = v
			}
			return js(m)
		}
		cases := []struct {
			name, method, path, ct string
			body                   []byte
			status                 int
			field                  string
		}{
			{"malformed JSON", "POST", "/openapi/v1/regions", "application/json", []byte(`{"region_name": "x",`), 400, "body"},
			{"not an object", "POST", "/openapi/v1/regions", "application/json", []byte(`["x"]`), 400, "body"},
			{"empty body", "POST", "/openapi/v1/regions", "application/json", nil, 400, "body"},
			{"missing required", "POST", "/openapi/v1/regions", "application/json", js(map[string]any{"region_alias": "A", "url": "https://x.example.com"}), 400, "region_name"},
			{"wrong type", "POST", "/openapi/v1/regions", "application/json", valid(map[string]any{"url": 42}), 400, "url"},
			{"status as a number out of range", "POST", "/openapi/v1/regions", "application/json", valid(map[string]any{"status": 4}), 400, "status"}, // 0..3 are Rainbond's form
			{"unknown status", "POST", "/openapi/v1/regions", "application/json", valid(map[string]any{"status": "4"}), 400, "status"},
			{"unknown scope", "POST", "/openapi/v1/regions", "application/json", valid(map[string]any{"scope": "global"}), 400, "scope"},
			{"unknown member", "POST", "/openapi/v1/regions", "application/json", valid(map[string]any{"region_id": "mine"}), 400, "region_id"},
			{"name too long", "POST", "/openapi/v1/regions", "application/json", valid(map[string]any{"region_name": "a" + strings.Repeat("b", 64)}), 400, "region_name"},
			{"alias too long", "POST", "/openapi/v1/regions", "application/json", valid(map[string]any{"region_alias": strings.Repeat("界", 65)}), 400, "region_alias"},
			{"desc too long", "POST", "/openapi/v1/regions", "application/json", valid(map[string]any{"desc": strings.Repeat("x", 201)}), 400, "desc"},
			{"url too long", "POST", "/openapi/v1/regions", "application/json", valid(map[string]any{"url": "https://x.example.com/" + strings.Repeat("p", 250)}), 400, "url"},
			{"upper-case name", "POST", "/openapi/v1/regions", "application/json", valid(map[string]any{"region_name": "Rainbond"}), 400, "region_name"},
			{"SQL in the name", "POST", "/openapi/v1/regions", "application/json", valid(map[string]any{"region_name": "x'; DROP TABLE region_info;--"}), 400, "region_name"},
			{"SQL in the id", "GET", "/openapi/v1/regions/1%27%20OR%20%271%27%3D%271", "", nil, 400, "region_id"},
			{"invalid UTF-8", "POST", "/openapi/v1/regions", "application/json", []byte("{\"region_name\":\"utf\",\"region_alias\":\"\xff\xfe\",\"url\":\"https://x.example.com\"}"), 400, "region_alias"},
			{"relative url", "POST", "/openapi/v1/regions", "application/json", valid(map[string]any{"url": "/api"}), 422, "url"},
			{"ftp url", "POST", "/openapi/v1/regions", "application/json", valid(map[string]any{"url": "ftp://x.example.com"}), 422, "url"},
			{"url with credentials", "POST", "/openapi/v1/regions", "application/json", valid(map[string]any{"url": "https://admin:pw@x.example.com"}), 422, "url"},
			{"http wsurl", "POST", "/openapi/v1/regions", "application/json", valid(map[string]any{"wsurl": "https://x.example.com"}), 422, "wsurl"},
			{"bad httpdomain", "POST", "/openapi/v1/regions", "application/json", valid(map[string]any{"httpdomain": "*.apps.example.com"}), 422, "httpdomain"},
			{"bad tcpdomain", "POST", "/openapi/v1/regions", "application/json", valid(map[string]any{"tcpdomain": "-bad-.example.com"}), 422, "tcpdomain"},
			{"broken PEM", "POST", "/openapi/v1/regions", "application/json", valid(map[string]any{"ssl_ca_cert": "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"}), 422, "ssl_ca_cert"},
			{"not PEM", "POST", "/openapi/v1/regions", "application/json", valid(map[string]any{"ssl_ca_cert": "hello"}), 422, "ssl_ca_cert"},
			{"key as CA", "POST", "/openapi/v1/regions", "application/json", valid(map[string]any{"ssl_ca_cert": key}), 422, "ssl_ca_cert"},
			{"truncated cert", "POST", "/openapi/v1/regions", "application/json", valid(map[string]any{"cert_file": cert[:len(cert)/2], "key_file": key}), 422, "cert_file"},
			{"key without cert", "POST", "/openapi/v1/regions", "application/json", valid(map[string]any{"key_file": key}), 422, "cert_file"},
			{"key not matching cert", "POST", "/openapi/v1/regions", "application/json", valid(map[string]any{"cert_file": otherCert, "key_file": key}), 422, "key_file"},
			{"null for a non-nullable", "PATCH", "/openapi/v1/regions/" + id, "application/merge-patch+json", []byte(`{"desc":null}`), 400, "desc"},
			{"empty patch", "PATCH", "/openapi/v1/regions/" + id, "application/merge-patch+json", []byte(`{}`), 400, "body"},
			{"rename by patch", "PATCH", "/openapi/v1/regions/" + id, "application/merge-patch+json", []byte(`{"region_name":"renamed"}`), 422, "region_name"},
			{"rename by put", "PUT", "/openapi/v1/regions/" + id, "application/json", js(map[string]any{"region_name": "renamed", "region_alias": "A", "url": "https://x.example.com"}), 422, "region_name"},
			{"bad limit", "GET", "/openapi/v1/regions?limit=0", "", nil, 400, "limit"},
			{"limit not a number", "GET", "/openapi/v1/regions?limit=ten", "", nil, 400, "limit"},
			{"unknown status filter", "GET", "/openapi/v1/regions?status=9", "", nil, 400, "status[0]"},
			{"forged page token", "GET", "/openapi/v1/regions?limit=1&page_token=eyJ2IjoxfQ.AAAA", "", nil, 400, "page_token"},
			{"unknown token scope", "POST", "/openapi/v1/tokens", "application/json", []byte(`{"scopes":["regions:read","root"]}`), 400, "scopes[1]"},
			{"token expiring in the past", "POST", "/openapi/v1/tokens", "application/json", []byte(`{"scopes":["regions:read"],"expires_at":"2001-01-01T00:00:00Z"}`), 422, "expires_at"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := e.Snapshot()
				resp, body := e.Do(c.method, c.path, e.Admin, c.ct, c.body)
				p := problemOf(t, resp, body, c.status)
				if p.Errors == nil {
					t.Fatalf("no field named: %s", body)
				}
				named := false
				for _, f := range *p.Errors {
					named = named || f.Field == c.field
				}
				if !named || !strings.Contains(p.Detail, c.field) {
					t.Fatalf("field %q not named: %s", c.field, body)
				}
				if after := e.Snapshot(); after != before {
					t.Fatalf("the refused request changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
				}
			})
		}
		// The SQL-looking text that is valid where free text is allowed is stored verbatim and
		// harms nothing.
		sqlish := "Robert'); DROP TABLE region_info;--"
		resp, body := e.Do("POST", "/openapi/v1/regions", e.Admin, "application/json", valid(map[string]any{"region_alias": sqlish, "desc": "1' OR '1'='1"}))
		if resp.StatusCode != 201 || !bytes.Contains(body, []byte(`DROP TABLE`)) {
			t.Fatalf("free text: %d %s", resp.StatusCode, body)
		}
		if list, err := e.Store.ListRegions(context.Background(), store.RegionQuery{EnterpriseID: apitest.Enterprise}); err != nil || len(list) != 2 {
			t.Fatalf("after SQL-looking input: %d regions, %v", len(list), err)
		}
	})
}

// TestResponsesAreValidated makes sure the validating client would catch a drift between the
// server and the spec: a response the spec does not allow is reported.
func TestResponsesAreValidated(t *testing.T) {
	e := apitest.Start(t, dbtest.SQLite(t), apitest.Options{})
	if msg := e.ValidateRaw("GET", "/openapi/v1/regions", 418, "application/json", `{"not":"an array"}`); msg == "" {
		t.Fatal("an undocumented status passed validation")
	}
	if msg := e.ValidateRaw("GET", "/openapi/v1/regions", 200, "application/json", `[{"region_name":"x"}]`); msg == "" {
		t.Fatal("a region without its required members passed validation")
	}
	if msg := e.ValidateRaw("GET", "/openapi/v1/regions/abc", 200, "application/json", `{"region_name":"x","region_alias":"a","url":"u","desc":"","status":"7"}`); msg == "" {
		t.Fatal("an unknown status value passed validation")
	}
	if msg := e.ValidateRaw("GET", "/openapi/v1/nowhere", 404, "text/plain", `not found`); msg == "" {
		t.Fatal("a plain-text error passed")
	}
	if msg := e.ValidateRaw("GET", "/openapi/v1/regions", 200, "application/json", `[]`); msg != "" {
		t.Fatalf("a valid response failed validation: %s", msg)
	}
}
