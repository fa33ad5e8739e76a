package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/server"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/testsupport/testpki"
	"github.com/regiond/regiond/internal/token"
)

const otherEnterprise = "e2"

// fixtures are a fresh region and token in an enterprise, for one request to act on.
type fixtures struct{ regionID, tokenID string }

func makeFixtures(t *testing.T, e *apitest.Env, enterprise, name string) fixtures {
	t.Helper()
	ctx := context.Background()
	r := region.Region{EnterpriseID: enterprise, RegionID: uuid.NewString(), RegionName: name, RegionAlias: "A",
		URL: "https://" + name + ".example.com", Status: region.StatusEnabled, Scope: region.ScopePrivate}
	if _, err := e.Store.CreateRegion(ctx, r, store.AuditEvent{EnterpriseID: enterprise, TokenID: "test", Operation: store.OpRegionCreate}); err != nil {
		t.Fatal(err)
	}
	tk := token.Token{ID: token.NewID(), EnterpriseID: enterprise, Scopes: []token.Scope{token.RegionsRead}, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	e.StoreToken(t, tk, token.NewSecret())
	return fixtures{regionID: r.RegionID, tokenID: tk.ID}
}

// operationCase is one operation of the API, how to call it, and what it needs.
type operationCase struct {
	id, method, path, contentType, body string
	scope                               token.Scope
	success                             int
	byID                                bool // acts on one resource: another enterprise's is a 404
}

func operationCases(f fixtures, n int) []operationCase {
	return []operationCase{
		{"listRegions", "GET", "/openapi/v1/regions", "", "", token.RegionsRead, 200, false},
		{"createRegion", "POST", "/openapi/v1/regions", "application/json", fmt.Sprintf(`{"region_name":"m-new-%d","region_alias":"A","url":"https://x.example.com"}`, n), token.RegionsWrite, 201, false},
		{"getRegion", "GET", "/openapi/v1/regions/" + f.regionID, "", "", token.RegionsRead, 200, true},
		{"replaceRegion", "PUT", "/openapi/v1/regions/" + f.regionID, "application/json", "", token.RegionsWrite, 200, true},
		{"updateRegion", "PATCH", "/openapi/v1/regions/" + f.regionID, "application/merge-patch+json", `{"status":"2"}`, token.RegionsWrite, 200, true},
		{"deleteRegion", "DELETE", "/openapi/v1/regions/" + f.regionID, "", "", token.RegionsWrite, 204, true},
		{"listTokens", "GET", "/openapi/v1/tokens", "", "", token.TokensAdmin, 200, false},
		{"createToken", "POST", "/openapi/v1/tokens", "application/json", `{"scopes":["tokens:admin"],"note":"matrix"}`, token.TokensAdmin, 201, false},
		{"getToken", "GET", "/openapi/v1/tokens/" + f.tokenID, "", "", token.TokensAdmin, 200, true},
		{"revokeToken", "DELETE", "/openapi/v1/tokens/" + f.tokenID, "", "", token.TokensAdmin, 204, true},
		{"listAuditEvents", "GET", "/openapi/v1/audit", "", "", token.TokensAdmin, 200, false},
	}
}

// TestAuthorizationMatrix calls every operation with every kind of caller — no token, a bad one,
// an expired one, a revoked one, each scope alone, an admin — in the resource's enterprise and in
// another, and asserts the exact status; every refused request leaves the database unchanged.
func TestAuthorizationMatrix(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{Server: func(c *server.Config) { c.RateLimit = 0 }})
		now := time.Now().UTC().Truncate(time.Microsecond)
		past := now.Add(-time.Minute)
		type caller struct {
			name   string
			tokens map[string]string // enterprise -> token value
			scopes []token.Scope     // nil: not authenticated
		}
		mk := func(name string, scopes []token.Scope, mutate func(*token.Token)) caller {
			c := caller{name: name, tokens: map[string]string{}, scopes: scopes}
			for _, ent := range []string{apitest.Enterprise, otherEnterprise} {
				tk := token.Token{ID: token.NewID(), EnterpriseID: ent, Scopes: token.AllScopes, CreatedAt: now}
				if scopes != nil {
					tk.Scopes = scopes
				}
				if mutate != nil {
					mutate(&tk)
				}
				c.tokens[ent] = e.StoreToken(t, tk, token.NewSecret())
				if tk.RevokedAt != nil {
					if _, err := e.Store.RevokeToken(context.Background(), ent, tk.ID, store.AuditEvent{TokenID: "test", Operation: store.OpTokenRevoke}); err != nil {
						t.Fatal(err)
					}
				}
			}
			if mutate != nil {
				c.scopes = nil // expired and revoked tokens authenticate nobody
			}
			return c
		}
		callers := []caller{
			{name: "no token", tokens: map[string]string{apitest.Enterprise: "", otherEnterprise: ""}},
			{name: "bad token", tokens: map[string]string{apitest.Enterprise: "rgd_" + strings.Repeat("x", 43), otherEnterprise: "garbage"}},
			mk("expired", token.AllScopes, func(tk *token.Token) { tk.ExpiresAt = &past }),
			mk("revoked", token.AllScopes, func(tk *token.Token) { tk.RevokedAt = &now }),
		}
		for _, sc := range token.AllScopes {
			callers = append(callers, mk(string(sc)+" alone", []token.Scope{sc}, nil))
		}
		callers = append(callers, mk("admin", token.AllScopes, nil))

		n := 0
		for _, c := range callers {
			for _, ent := range []string{apitest.Enterprise, otherEnterprise} {
				for i := range operationCases(fixtures{}, 0) {
					n++
					f := makeFixtures(t, e, apitest.Enterprise, fmt.Sprintf("m-%d", n))
					op := operationCases(f, n)[i]
					if op.id == "replaceRegion" {
						op.body = fmt.Sprintf(`{"region_name":"m-%d","region_alias":"B","url":"https://y.example.com"}`, n)
					}
					want := op.success
					switch {
					case c.scopes == nil:
						want = 401
					case !containsScope(c.scopes, op.scope):
						want = 403
					case ent == otherEnterprise && op.byID:
						want = 404
					}
					before := e.Snapshot()
					var body []byte
					if op.body != "" {
						body = []byte(op.body)
					}
					resp, respBody := e.Do(op.method, op.path, c.tokens[ent], op.contentType, body)
					if resp.StatusCode != want {
						t.Fatalf("%s by %q of enterprise %s: %d, want %d: %s", op.id, c.name, ent, resp.StatusCode, want, respBody)
					}
					if want >= 400 {
						problemOf(t, resp, respBody, want)
						if after := e.Snapshot(); after != before {
							t.Fatalf("%s by %q of %s was refused (%d) but changed the database", op.id, c.name, ent, want)
						}
					}
					if want == 200 && ent == otherEnterprise && op.id == "listRegions" && fixtureName.Match(respBody) {
						t.Fatalf("%s by %q of another enterprise shows this enterprise's regions: %s", op.id, c.name, respBody)
					}
					if want == 200 && ent == otherEnterprise && op.id == "listAuditEvents" && strings.Contains(string(respBody), `"enterprise_id":"e1"`) {
						t.Fatalf("the audit trail leaks across enterprises: %s", respBody)
					}
				}
			}
		}
		t.Logf("%d requests checked", n)
	})
}

// fixtureName matches the regions makeFixtures puts in the first enterprise.
var fixtureName = regexp.MustCompile(`"region_name":"m-[0-9]`)

func containsScope(have []token.Scope, s token.Scope) bool {
	for _, h := range have {
		if h == s {
			return true
		}
	}
	return false
}

// TestSecrets: TLS material reaches only regions:secrets holders, a list never carries key_file,
// key_file is encrypted at rest, writes without the scope cannot touch TLS material, and a server
// without an encryption key refuses to store a key_file and says why.
func TestSecrets(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{})
		cert, key := testpki.Pair(t, "secrets")
		e.Secret(key)
		b, _ := json.Marshal(map[string]any{"region_name": "sec", "region_alias": "S", "url": "https://sec.example.com",
			"ssl_ca_cert": cert, "cert_file": cert, "key_file": key})
		resp, body := e.Do("POST", "/openapi/v1/regions", e.Admin, "application/json", b)
		if resp.StatusCode != 201 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		var created api.RegionInfoResp
		json.Unmarshal(body, &created)
		id := created.RegionId

		// At rest: ciphertext only.
		w, _ := e.Store.DBs()
		var raw string
		if err := w.QueryRow("SELECT key_file FROM region_info WHERE region_id = ?", id).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(raw, "PRIVATE KEY") || strings.Contains(raw, key[30:60]) {
			t.Fatal("key_file is stored in plain text")
		}

		rw := e.Token(t, apitest.Enterprise, token.RegionsRead, token.RegionsWrite)
		for _, tok := range []string{rw, e.Token(t, apitest.Enterprise, token.RegionsRead)} {
			for _, path := range []string{"/openapi/v1/regions", "/openapi/v1/regions/" + id, "/openapi/v1/regions?limit=5", "/openapi/v1/regions?q=sec"} {
				resp, body := e.Do("GET", path, tok, "", nil)
				if resp.StatusCode != 200 || strings.Contains(string(body), "BEGIN") || !strings.Contains(string(body), `"ssl_ca_cert":null`) {
					t.Fatalf("%s without regions:secrets: %d %s", path, resp.StatusCode, body)
				}
			}
		}
		for _, path := range []string{"/openapi/v1/regions", "/openapi/v1/regions?limit=5", "/openapi/v1/regions?q=sec"} {
			_, body := e.Do("GET", path, e.Admin, "", nil)
			if strings.Contains(string(body), "PRIVATE KEY") || !strings.Contains(string(body), "BEGIN CERTIFICATE") || !strings.Contains(string(body), `"key_file":null`) {
				t.Fatalf("list %s for regions:secrets: %s", path, body)
			}
		}
		if _, body := e.Do("GET", "/openapi/v1/regions/"+id, e.Admin, "", nil); !strings.Contains(string(body), "PRIVATE KEY") {
			t.Fatal("the detail does not give key_file to regions:secrets")
		}

		// A caller without regions:secrets can send back what it read (nulls), and the stored
		// material stays; it cannot set any TLS field.
		_, read := e.Do("GET", "/openapi/v1/regions/"+id, rw, "", nil)
		var asRead map[string]any
		json.Unmarshal(read, &asRead)
		delete(asRead, "region_id")
		asRead["desc"] = "round trip"
		back, _ := json.Marshal(asRead)
		if resp, body := e.Do("PUT", "/openapi/v1/regions/"+id, rw, "application/json", back); resp.StatusCode != 200 {
			t.Fatalf("PUT of a GET body without regions:secrets: %d %s", resp.StatusCode, body)
		}
		if resp, body := e.Do("PATCH", "/openapi/v1/regions/"+id, rw, "application/merge-patch+json", []byte(`{"key_file":null,"cert_file":null}`)); resp.StatusCode != 200 {
			t.Fatalf("PATCH with nulls without regions:secrets: %d %s", resp.StatusCode, body)
		}
		if _, body := e.Do("GET", "/openapi/v1/regions/"+id, e.Admin, "", nil); !strings.Contains(string(body), "PRIVATE KEY") || !strings.Contains(string(body), "round trip") {
			t.Fatal("a caller without regions:secrets destroyed TLS material")
		}
		for _, req := range []struct{ method, ct, body string }{
			{"PATCH", "application/merge-patch+json", `{"ssl_ca_cert":` + jsonString(cert) + `}`},
			{"PUT", "application/json", `{"region_name":"sec","region_alias":"S","url":"https://sec.example.com","cert_file":` + jsonString(cert) + `,"key_file":` + jsonString(key) + `}`},
		} {
			before := e.Snapshot()
			resp, body := e.Do(req.method, "/openapi/v1/regions/"+id, rw, req.ct, []byte(req.body))
			if p := problemOf(t, resp, body, 403); !strings.Contains(p.Detail, "regions:secrets") {
				t.Fatalf("403 does not name regions:secrets: %s", p.Detail)
			}
			if e.Snapshot() != before {
				t.Fatal("a refused TLS write changed the database")
			}
		}
		b, _ = json.Marshal(map[string]any{"region_name": "sec2", "region_alias": "S", "url": "https://sec.example.com", "ssl_ca_cert": cert})
		if resp, _ := e.Do("POST", "/openapi/v1/regions", rw, "application/json", b); resp.StatusCode != 403 {
			t.Fatalf("create with TLS without regions:secrets: %d", resp.StatusCode)
		}

		// The audit trail records that secrets changed, never their values.
		_, audit := e.Do("GET", "/openapi/v1/audit", e.Admin, "", nil)
		if strings.Contains(string(audit), "BEGIN") || !strings.Contains(string(audit), `"key_file"`) {
			t.Fatalf("audit: %s", audit)
		}

		// A server without an encryption key refuses key_file, saying why.
		nokey := apitest.Start(t, dbtest.Fresh(t, dsn), apitest.Options{NoKeyring: true})
		b, _ = json.Marshal(map[string]any{"region_name": "nokey", "region_alias": "S", "url": "https://sec.example.com", "cert_file": cert, "key_file": key})
		resp, body = nokey.Do("POST", "/openapi/v1/regions", nokey.Admin, "application/json", b)
		if p := problemOf(t, resp, body, 422); (*p.Errors)[0].Field != "key_file" || !strings.Contains(p.Detail, "REGIOND_SECRET_KEY") {
			t.Fatalf("no key: %s", body)
		}
	})
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestTokenAPI manages tokens through the API: the value is shown once, never listed, scopes
// cannot be escalated, and a revoked token stops working at once.
func TestTokenAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{})
		c := e.Client(e.Admin)
		ctx := context.Background()
		exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		created, err := c.CreateTokenWithResponse(ctx, api.TokenCreate{Scopes: []api.Scope{api.ScopeRegionsRead}, Note: ptr("dashboard"), ExpiresAt: &exp})
		if err != nil || created.StatusCode() != 201 {
			t.Fatalf("create: %v %d %s", err, created.StatusCode(), created.Body)
		}
		tk := created.JSON201
		e.Secret(tk.Token)
		if !strings.HasPrefix(tk.Token, "rgd_") || !strings.HasPrefix(tk.Token, tk.Prefix) || tk.Note != "dashboard" ||
			created.HTTPResponse.Header.Get("Location") != "/openapi/v1/tokens/"+tk.Id {
			t.Fatalf("created: %+v", tk)
		}
		if got, _ := tk.ExpiresAt.Get(); !got.Equal(exp) {
			t.Fatalf("expires_at %v", got)
		}
		// The new token works, with its scope only.
		if resp, _ := e.Do("GET", "/openapi/v1/regions", tk.Token, "", nil); resp.StatusCode != 200 {
			t.Fatalf("new token: %d", resp.StatusCode)
		}
		if resp, _ := e.Do("GET", "/openapi/v1/tokens", tk.Token, "", nil); resp.StatusCode != 403 {
			t.Fatalf("new token on tokens: %d", resp.StatusCode)
		}
		// Listed and read without the secret.
		list, _ := c.ListTokensWithResponse(ctx, nil)
		one, _ := c.GetTokenWithResponse(ctx, tk.Id)
		if strings.Contains(string(list.Body), tk.Token) || strings.Contains(string(one.Body), tk.Token) || one.JSON200.Id != tk.Id {
			t.Fatal("a token value is listed")
		}
		// No escalation: a tokens:admin-only token cannot mint regions:write.
		limited := e.Token(t, apitest.Enterprise, token.TokensAdmin)
		resp, body := e.Do("POST", "/openapi/v1/tokens", limited, "application/json", []byte(`{"scopes":["regions:write"]}`))
		if p := problemOf(t, resp, body, 403); !strings.Contains(p.Detail, "regions:write") {
			t.Fatalf("escalation: %s", body)
		}
		// Paging through tokens.
		for i := 0; i < 5; i++ {
			e.Token(t, apitest.Enterprise, token.RegionsRead)
		}
		var seen []string
		path := "/openapi/v1/tokens?limit=2"
		for path != "" {
			resp, body := e.Do("GET", path, e.Admin, "", nil)
			var page []api.Token
			json.Unmarshal(body, &page)
			for _, p := range page {
				seen = append(seen, p.Id)
			}
			path = ""
			if m := nextLink.FindStringSubmatch(resp.Header.Get("Link")); m != nil {
				path = m[1]
			}
		}
		all, _ := e.Store.ListTokens(ctx, apitest.Enterprise, nil, 0)
		if len(seen) != len(all) {
			t.Fatalf("paged %d tokens, %d exist", len(seen), len(all))
		}
		// Revoke: 204, 401 from then on, and revoking again is harmless.
		if r, _ := c.RevokeTokenWithResponse(ctx, tk.Id); r.StatusCode() != 204 {
			t.Fatalf("revoke: %d", r.StatusCode())
		}
		resp, body = e.Do("GET", "/openapi/v1/regions", tk.Token, "", nil)
		if p := problemOf(t, resp, body, 401); !strings.Contains(p.Detail, "revoked") {
			t.Fatalf("revoked token: %s", body)
		}
		if r, _ := c.RevokeTokenWithResponse(ctx, tk.Id); r.StatusCode() != 204 {
			t.Fatalf("revoke again: %d", r.StatusCode())
		}
		// The audit trail has the creation and the revocation, with the acting token.
		audit, _ := c.ListAuditEventsWithResponse(ctx, &api.ListAuditEventsParams{Limit: ptr(int32(100))})
		var ops []string
		for _, ev := range *audit.JSON200 {
			if ev.TargetId == tk.Id {
				ops = append(ops, string(ev.Operation)+" by "+ev.TokenId[:4])
			}
		}
		if strings.Join(ops, ",") != "token.revoke by tok_,token.create by tok_" {
			t.Fatalf("audit of the token: %v", ops)
		}
	})
}

// TestLimitsAndHeaders: body limit (declared and streamed), read-header and idle timeouts, the
// security headers on every kind of response, and CORS off by default and on by origin.
func TestLimitsAndHeaders(t *testing.T) {
	e := apitest.Start(t, dbtest.SQLite(t), apitest.Options{
		Server: func(c *server.Config) { c.BodyLimit = 2048; c.CORSOrigins = []string{"https://console.example.com"} },
		HTTP: func(s *http.Server) {
			s.ReadHeaderTimeout = 200 * time.Millisecond
			s.IdleTimeout = 300 * time.Millisecond
		},
	})
	host := strings.TrimPrefix(e.URL, "http://")

	t.Run("body limit without Content-Length", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			pw.Write([]byte(`{"region_name":"x","region_alias":"` + strings.Repeat("a", 4000) + `"}`))
			pw.Close()
		}()
		req, _ := http.NewRequest("POST", e.URL+"/openapi/v1/regions", pr)
		req.Header.Set("Authorization", e.Admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := e.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		problemOf(t, resp, body, 413)
	})
	t.Run("read header timeout", func(t *testing.T) {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n")) // never finishes its headers
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		_, err = bufio.NewReader(conn).ReadString('\n')
		if err == nil || time.Since(start) > 4*time.Second {
			t.Fatalf("a slow client was not cut off by the read header timeout: %v after %v", err, time.Since(start))
		}
	})
	t.Run("idle timeout", func(t *testing.T) {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
		r := bufio.NewReader(conn)
		resp, err := http.ReadResponse(r, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("first request: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		if _, err := r.ReadByte(); err == nil || time.Since(start) > 4*time.Second {
			t.Fatalf("an idle keep-alive connection stayed open: %v", err)
		}
	})
	t.Run("security headers everywhere", func(t *testing.T) {
		for _, path := range []string{"/openapi/v1/regions", "/openapi/v1/nowhere", "/healthz", "/openapi.yaml", "/docs/", "/metrics"} {
			for _, tok := range []string{e.Admin, ""} {
				resp, _ := e.Do("GET", path, tok, "", nil)
				h := resp.Header
				if h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
					h.Get("X-Request-Id") == "" || h.Get("Cache-Control") == "" {
					t.Fatalf("%s (token %v): headers %v", path, tok != "", h)
				}
				// HTML is the one kind of response a browser renders: it gets the rest.
				if strings.HasPrefix(h.Get("Content-Type"), "text/html") && (h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer") {
					t.Fatalf("%s: an HTML page without X-Frame-Options or Referrer-Policy: %v", path, h)
				}
			}
		}
		if resp, _ := e.Do("GET", "/openapi/v1/regions", e.Admin, "", nil); resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("an admin's list may be cached: %q", resp.Header.Get("Cache-Control"))
		}
	})
	t.Run("request id", func(t *testing.T) {
		resp, _ := e.Do("GET", "/healthz", "", "", nil, "X-Request-ID", "my-trace-123")
		if resp.Header.Get("X-Request-Id") != "my-trace-123" {
			t.Fatalf("the caller's request id was not kept: %q", resp.Header.Get("X-Request-Id"))
		}
		long := strings.Repeat("x", 300)
		for _, bad := range []string{"has spaces in it", long, "quote\"d"} {
			resp, _ = e.Do("GET", "/healthz", "", "", nil, "X-Request-ID", bad)
			if got := resp.Header.Get("X-Request-Id"); got == "" || got == bad {
				t.Fatalf("an unsafe request id was echoed: %q", got)
			}
		}
	})
	t.Run("cors", func(t *testing.T) {
		resp, _ := e.Do("OPTIONS", "/openapi/v1/regions", "", "", nil, "Origin", "https://console.example.com",
			"Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization")
		if resp.Header.Get("Access-Control-Allow-Origin") != "https://console.example.com" ||
			!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "authorization") {
			t.Fatalf("preflight from an allowed origin: %d %v", resp.StatusCode, resp.Header)
		}
		resp, _ = e.Do("GET", "/openapi/v1/regions", e.Admin, "", nil, "Origin", "https://evil.example.com")
		if resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatal("CORS allowed an origin that is not configured")
		}
		plain := apitest.Start(t, dbtest.SQLite(t), apitest.Options{})
		resp, _ = plain.Do("GET", "/openapi/v1/regions", plain.Admin, "", nil, "Origin", "https://console.example.com")
		if resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatal("CORS is on by default")
		}
	})
}
