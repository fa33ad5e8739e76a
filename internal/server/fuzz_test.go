package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/config"
	"github.com/regiond/regiond/internal/problem"
	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/secrets"
	"github.com/regiond/regiond/internal/server"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/testsupport/testpki"
	"github.com/regiond/regiond/internal/token"
)

// fuzzMethods are the methods a fuzzed request uses (its first argument picks one).
var fuzzMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

// fixedRegionID names a region that exists at the start of every fuzzed request: "{id}" in a
// fuzzed path stands for it, so that reads and writes of an existing region are reachable. "{tok}"
// likewise stands for an unrevoked token.
const fixedRegionID = "0f0f0f0f-0000-4000-8000-000000000001"

// fuzzEnv is one server over one migrated SQLite database, shared by every input a fuzzing
// process runs (migrating per input would make each execution cost a schema).
type fuzzEnv struct {
	st      *store.Store
	handler http.Handler
	admin   string // every scope, enterprise e1
	reader  string // regions:read only, enterprise e1
	victim  string // id of a token "{tok}" in a fuzzed path stands for; remade once revoked
	logs    *apitest.SyncBuffer
	cert    string
	key     string
}

func newFuzzEnv(f *testing.F) *fuzzEnv {
	ctx := context.Background()
	keyring, err := secrets.Parse(secrets.GenerateKey())
	if err != nil {
		f.Fatal(err)
	}
	logs := &apitest.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := store.Open(ctx, dbtest.SQLite(f), store.Options{Keyring: keyring, Logger: log, MaxOpenConns: 4})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		f.Fatal(err)
	}
	// The page-token key is fixed (the server reads it from the database), so that a signed token
	// in a seed is valid in every fuzzing process, each of which has its own database.
	if _, err := st.Meta(ctx, "page_token_key", base64.StdEncoding.EncodeToString(make([]byte, 32))); err != nil {
		f.Fatal(err)
	}
	// A small body limit makes 413 reachable with small inputs; rate limiting is off so that the
	// fuzzer's request rate never turns into 429s.
	cfg := server.Config{API: config.Defaults().API, Store: st, Logger: log}
	cfg.BodyLimit, cfg.AccessLog, cfg.RateLimit, cfg.AuthFailRate = 16<<10, false, 0, 0
	srv, err := server.New(ctx, cfg)
	if err != nil {
		f.Fatal(err)
	}
	bg, stop := context.WithCancel(ctx)
	f.Cleanup(stop)
	go srv.Run(bg)

	e := &fuzzEnv{st: st, handler: srv.Handler(), logs: logs}
	e.cert, e.key = testpki.Pair(f, "fuzz")
	e.admin = fuzzToken(f, st, token.AllScopes...)
	e.reader = fuzzToken(f, st, token.RegionsRead)
	if e.victim, _, err = storeToken(st, token.RegionsRead); err != nil {
		f.Fatal(err)
	}
	if err := e.restoreFixed(); err != nil {
		f.Fatal(err)
	}
	other := region.Region{EnterpriseID: "e1", RegionID: "0f0f0f0f-0000-4000-8000-000000000002", RegionName: "fuzz-other",
		RegionAlias: "Other", URL: "http://10.0.0.2", Status: region.StatusEnabled, Scope: region.ScopePublic}
	if _, err := st.CreateRegion(ctx, other, store.AuditEvent{EnterpriseID: "e1", TokenID: "fuzz", Operation: store.OpRegionCreate}); err != nil {
		f.Fatal(err)
	}
	return e
}

func fuzzToken(f *testing.F, st *store.Store, scopes ...token.Scope) string {
	_, secret, err := storeToken(st, scopes...)
	if err != nil {
		f.Fatal(err)
	}
	return secret
}

// storeToken stores a new token of enterprise e1 and returns its id and value.
func storeToken(st *store.Store, scopes ...token.Scope) (id, secret string, err error) {
	secret = token.NewSecret()
	t := token.Token{ID: token.NewID(), EnterpriseID: "e1", Prefix: token.PrefixOf(secret), Hash: token.Hash(secret),
		Scopes: scopes, CreatedAt: time.Now().UTC().Truncate(time.Microsecond), CreatedBy: "fuzz"}
	err = st.CreateToken(context.Background(), t, store.AuditEvent{EnterpriseID: "e1", TokenID: "fuzz", Operation: store.OpTokenCreate})
	return t.ID, secret, err
}

// restoreFixed puts the fixed region back in its initial state, so that every input starts from
// the same one whatever the previous input did to it.
func (e *fuzzEnv) restoreFixed() error {
	ctx := context.Background()
	ev := store.AuditEvent{EnterpriseID: "e1", TokenID: "fuzz", Operation: store.OpRegionDelete}
	if _, err := e.st.DeleteRegion(ctx, "e1", fixedRegionID, store.Precondition{}, ev); err != nil && err != store.ErrNotFound {
		return fmt.Errorf("deleting the fixed region: %w", err)
	}
	ev.Operation = store.OpRegionCreate
	r := region.Region{EnterpriseID: "e1", RegionID: fixedRegionID, RegionName: "fuzz-fixed", RegionAlias: "Fixed",
		URL: "https://fixed.example.com:8443", WSURL: "wss://fixed.example.com:6060", HTTPDomain: "apps.example.com",
		TCPDomain: "10.0.0.1", Status: region.StatusEnabled, Scope: region.ScopePrivate,
		SSLCACert: &e.cert, CertFile: &e.cert, KeyFile: &e.key}
	if _, err := e.st.CreateRegion(ctx, r, ev); err != nil {
		return fmt.Errorf("creating the fixed region: %w", err)
	}
	return nil
}

// writes counts what a successful write leaves behind: audit events and generations.
func (e *fuzzEnv) writes(t *testing.T) string {
	w, _ := e.st.DBs()
	var audits, gens int64
	err := w.QueryRow("SELECT (SELECT COUNT(*) FROM regiond_audit), (SELECT COALESCE(SUM(generation), 0) FROM regiond_generation)").Scan(&audits, &gens)
	if err != nil {
		t.Fatalf("counting writes: %v", err)
	}
	return fmt.Sprintf("%d audit events, generation sum %d", audits, gens)
}

// do runs a request through the handler.
func (e *fuzzEnv) do(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return rec
}

// get reads path back with the same Authorization.
func (e *fuzzEnv) get(path, authz string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	req.RemoteAddr = "192.0.2.1:40000"
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	return e.do(req)
}

// validHeaderValue is what net/http's server accepts in a header value (httpguts): no control
// bytes but tab. A real server answers 400 to anything else before regiond sees it.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < ' ' && b != '\t' || b == 0x7f {
			return false
		}
	}
	return true
}

// fuzzRequest builds the request a real client would send and a real server would parse: the
// bytes go through http.ReadRequest, as net/http's server reads them. It returns nil for inputs
// that net/http's server would refuse itself.
func fuzzRequest(method, target, contentType, authz, cond string, body []byte) *http.Request {
	for _, v := range []string{target, contentType, authz, cond} {
		if !validHeaderValue(v) {
			return nil
		}
	}
	var raw bytes.Buffer
	fmt.Fprintf(&raw, "%s %s HTTP/1.1\r\nHost: regiond.test\r\n", method, target)
	if contentType != "" {
		fmt.Fprintf(&raw, "Content-Type: %s\r\n", contentType)
	}
	if authz != "" {
		fmt.Fprintf(&raw, "Authorization: %s\r\n", authz)
	}
	if cond != "" {
		name := "If-Match"
		if method == "GET" || method == "HEAD" {
			name = "If-None-Match"
		}
		fmt.Fprintf(&raw, "%s: %s\r\n", name, cond)
	}
	fmt.Fprintf(&raw, "Content-Length: %d\r\n\r\n", len(body))
	raw.Write(body)
	req, err := http.ReadRequest(bufio.NewReader(&raw))
	if err != nil {
		return nil
	}
	req.RemoteAddr = "192.0.2.1:40000"
	return req
}

// FuzzRequestPath sends arbitrary requests under /openapi/v1/ through the whole server — routing,
// the request validator (authentication, scopes, validation against openapi.yaml), handlers and the SQLite
// store — and checks what must hold for any request:
//   - it never panics and never answers 5xx (the database is up: a 5xx is a bug);
//   - every error is application/problem+json with code == status and msg == detail;
//   - a refused request, or a read, writes nothing (no audit event, no generation bump);
//   - a successful write can be read back as it was answered.
func FuzzRequestPath(f *testing.F) {
	e := newFuzzEnv(f)

	const (
		authNone = iota
		authAdmin
		authBearerAdmin
		authReader
		authJunk
	)
	add := func(method int, path, contentType string, auth uint8, junk, cond, body string) {
		f.Add(uint8(method), path, contentType, auth, junk, cond, []byte(body))
	}
	const (
		get = iota
		post
		put
		patch
		del
		head
		options
	)
	const ctJSON, merge = "application/json", "application/merge-patch+json"
	valid := `{"region_name":"fuzz-new","region_alias":"New","url":"https://new.example.com:8443","wsurl":"wss://new.example.com","httpdomain":"apps.example.com","tcpdomain":"10.1.2.3","status":"1","scope":"public","desc":"d"}`
	tls, _ := jsonMarshal(map[string]any{"region_name": "fuzz-tls", "region_alias": "T", "url": "https://t.example.com",
		"ssl_ca_cert": e.cert, "cert_file": e.cert, "key_file": e.key})
	add(get, "regions", "", authAdmin, "", "", "")
	add(get, "regions", "", authReader, "", "", "")
	add(get, "regions?status=1&status=3&scope=public&q=fuzz", "", authAdmin, "", "", "")
	add(get, "regions?limit=1", "", authBearerAdmin, "", "", "")
	add(get, "regions?limit=0", "", authAdmin, "", "", "")
	add(get, "regions?page_token=abc.def", "", authAdmin, "", "", "")
	add(get, "regions", "", authNone, "", "", "")
	add(get, "regions", "", authJunk, "rgd_notatoken", "", "")
	add(get, "regions", "", authJunk, "Bearer ", "", "")
	add(post, "regions", ctJSON, authAdmin, "", "", valid)
	add(post, "regions", ctJSON+"; charset=utf-8", authAdmin, "", "", tls)
	add(post, "regions", ctJSON, authReader, "", "", valid)
	add(post, "regions", "text/plain", authAdmin, "", "", valid)
	add(post, "regions", ctJSON+"; charset=latin1", authAdmin, "", "", valid)
	add(post, "regions", ctJSON, authAdmin, "", "", `{"region_name":"x","region_alias":"A","url":"ftp://x"}`)
	add(post, "regions", ctJSON, authAdmin, "", "", `{"region_name":"x","region_alias":"A","url":"https://x","extra":1}`)
	add(post, "regions", ctJSON, authAdmin, "", "", `{"region_name":"x","region_alias":"A","url":"https://x","key_file":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}`)
	add(post, "regions", ctJSON, authAdmin, "", "", "{\"region_name\":\"x\",\"region_alias\":\"\xff\",\"url\":\"https://x\"}")
	add(post, "regions", ctJSON, authAdmin, "", "", `{"region_name":`)
	add(post, "regions", ctJSON, authAdmin, "", "", `[]`)
	add(post, "regions", ctJSON, authAdmin, "", "", `null`)
	add(post, "regions", ctJSON, authAdmin, "", "", "")
	add(get, "regions/{id}", "", authAdmin, "", "", "")
	add(get, "regions/{id}", "", authAdmin, "", `"r1s"`, "")
	add(get, "regions/{id}", "", authReader, "", "", "")
	add(get, "regions/not-a-uuid", "", authAdmin, "", "", "")
	add(get, "regions/%2F..%2F", "", authAdmin, "", "", "")
	add(get, "regions/{id}/../{id}", "", authAdmin, "", "", "")
	add(put, "regions/{id}", ctJSON, authAdmin, "", `"r1s"`, `{"region_name":"fuzz-fixed","region_alias":"Put","url":"http://10.9.9.9"}`)
	add(put, "regions/{id}", ctJSON, authAdmin, "", `"nope"`, `{"region_name":"fuzz-fixed","region_alias":"Put","url":"http://10.9.9.9"}`)
	add(put, "regions/{id}", ctJSON, authAdmin, "", "", `{"region_name":"renamed","region_alias":"Put","url":"http://10.9.9.9"}`)
	add(patch, "regions/{id}", merge, authAdmin, "", `"r1s"`, `{"desc":"patched","status":"3","scope":"public"}`)
	add(patch, "regions/{id}", merge, authAdmin, "", "", `{"ssl_ca_cert":null,"cert_file":null,"key_file":null}`)
	add(patch, "regions/{id}", merge, authAdmin, "", "", `{"key_file":null}`)
	add(patch, "regions/{id}", merge, authAdmin, "", "", `{"cert_file":null}`)
	add(patch, "regions/{id}", merge, authReader, "", "", `{"desc":"patched"}`)
	add(patch, "regions/{id}", ctJSON, authAdmin, "", "", `{"desc":"patched"}`)
	add(del, "regions/{id}", "", authAdmin, "", "", "")
	add(del, "regions/{id}", "", authAdmin, "", `"r2"`, "")
	add(del, "regions", "", authAdmin, "", "", "")
	add(get, "tokens", "", authAdmin, "", "", "")
	add(get, "tokens?limit=1", "", authAdmin, "", "", "")
	add(post, "tokens", ctJSON, authAdmin, "", "", `{"scopes":["regions:read"],"note":"fuzz","expires_at":"2099-01-01T00:00:00Z"}`)
	add(post, "tokens", ctJSON, authAdmin, "", "", `{"scopes":["regions:read"],"expires_at":"2000-01-01T00:00:00Z"}`)
	add(post, "tokens", ctJSON, authReader, "", "", `{"scopes":["tokens:admin"]}`)
	add(get, "tokens/tok_nope", "", authAdmin, "", "", "")
	add(del, "tokens/tok_nope", "", authAdmin, "", "", "")
	add(get, "tokens/{tok}", "", authAdmin, "", "", "")
	add(del, "tokens/{tok}", "", authAdmin, "", "", "")
	add(del, "tokens/{tok}", "", authReader, "", "", "")
	add(get, "audit", "", authAdmin, "", "", "")
	add(get, "audit?limit=2&page_token=x", "", authAdmin, "", "", "")
	add(get, "nothing/here", "", authAdmin, "", "", "")
	add(head, "regions", "", authAdmin, "", "", "")
	add(options, "regions", "", authNone, "", "", "")

	// A real next-page link, so that the fuzzer starts from a validly signed page token.
	if rec := e.get("/openapi/v1/regions?limit=1", e.admin); rec.Code == 200 {
		if link := rec.Header().Get("Link"); strings.HasPrefix(link, "</openapi/v1/") {
			next := strings.TrimPrefix(link[1:strings.Index(link, ">")], "/openapi/v1/")
			add(get, next, "", authAdmin, "", "", "")
			add(get, next, "", authReader, "", "", "")
		}
	}

	f.Fuzz(func(t *testing.T, methodIdx uint8, path, contentType string, auth uint8, junk, cond string, body []byte) {
		method := fuzzMethods[int(methodIdx)%len(fuzzMethods)]
		var authz string
		switch auth % 5 {
		case authAdmin:
			authz = e.admin
		case authBearerAdmin:
			authz = "Bearer " + e.admin
		case authReader:
			authz = e.reader
		case authJunk:
			authz = junk
		}
		target := "/openapi/v1/" + strings.NewReplacer("{id}", fixedRegionID, "{tok}", e.victim).Replace(path)
		req := fuzzRequest(method, target, contentType, authz, cond, body)
		if req == nil {
			t.Skip("net/http's server would refuse this request itself")
		}
		authz = req.Header.Get("Authorization") // as the server sees it (trimmed)
		e.logs.Take()
		before := e.writes(t)
		rec := e.do(req)
		res := rec.Result()
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("%s %q -> %d %q\n%s\nbody: %.2000s\nserver log:\n%s", method, target, rec.Code, rec.Header(),
				fmt.Sprintf(format, args...), rec.Body.Bytes(), e.logs.Take())
		}

		switch {
		case rec.Code >= 500:
			fail("a server error: every request here is either served or refused with a 4xx")
		case rec.Code >= 400:
			if method != "HEAD" {
				checkProblemDoc(t, res.Header, rec.Code, rec.Body.Bytes(), fail)
			}
		case rec.Code == http.StatusNotModified || rec.Code >= 200 && rec.Code < 300:
			if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt == "application/json" && !json.Valid(rec.Body.Bytes()) {
				fail("a 2xx application/json body that is not JSON")
			}
		default:
			fail("an unexpected status")
		}

		isWrite := method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE"
		if !(isWrite && rec.Code >= 200 && rec.Code < 300) {
			if after := e.writes(t); after != before {
				fail("a read or a refused request wrote to the database: before %s, after %s", before, after)
			}
			return
		}
		checkWriteReadsBack(t, e, req, rec, authz, fail)
		switch {
		case method == "DELETE" && strings.HasPrefix(req.URL.EscapedPath(), "/openapi/v1/tokens/"):
			var err error
			if e.victim, _, err = storeToken(e.st, token.RegionsRead); err != nil {
				t.Fatal(err)
			}
		case method != "POST":
			if err := e.restoreFixed(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func jsonMarshal(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// checkProblemDoc checks an error response is a problem document consistent with its status.
func checkProblemDoc(t *testing.T, h http.Header, status int, body []byte, fail func(string, ...any)) {
	t.Helper()
	if mt, _, err := mime.ParseMediaType(h.Get("Content-Type")); err != nil || mt != problem.ContentType {
		fail("an error that is not %s", problem.ContentType)
	}
	var p api.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		fail("an error body that is not a problem document: %v", err)
	}
	if p.Status != status || p.Code != status || p.Msg != p.Detail || p.Detail == "" || p.Title == "" {
		fail("a malformed problem: want status == code == %d, msg == detail, both set", status)
	}
	if p.RequestId == "" || p.RequestId != h.Get("X-Request-Id") {
		fail("the problem's request_id is not the X-Request-Id header")
	}
}

// checkWriteReadsBack reads back what a successful write answered: a created or replaced region
// reads as it was answered, a deleted one is gone, a created token exists, a revoked one is
// revoked.
func checkWriteReadsBack(t *testing.T, e *fuzzEnv, req *http.Request, rec *httptest.ResponseRecorder, authz string, fail func(string, ...any)) {
	t.Helper()
	path := req.URL.EscapedPath()
	tokens := strings.HasPrefix(path, "/openapi/v1/tokens")
	switch req.Method {
	case "POST":
		loc := rec.Header().Get("Location")
		if rec.Code != http.StatusCreated || loc == "" {
			fail("a successful POST without 201 and Location")
		}
		back := e.get(loc, authz)
		if back.Code != http.StatusOK {
			fail("the created resource at %s cannot be read back: %d %s", loc, back.Code, back.Body.Bytes())
		}
		if tokens {
			var created, read map[string]any
			json.Unmarshal(rec.Body.Bytes(), &created)
			json.Unmarshal(back.Body.Bytes(), &read)
			delete(created, "token")
			delete(created, "last_used_at")
			delete(read, "last_used_at")
			if !reflect.DeepEqual(created, read) {
				fail("the created token reads back differently: %s", back.Body.Bytes())
			}
			return
		}
		sameRepresentation(rec, back, fail)
	case "PUT", "PATCH":
		if rec.Code != http.StatusOK {
			fail("a successful %s that is not 200", req.Method)
		}
		back := e.get(path, authz)
		if back.Code != http.StatusOK {
			fail("the changed region cannot be read back: %d %s", back.Code, back.Body.Bytes())
		}
		sameRepresentation(rec, back, fail)
	case "DELETE":
		if rec.Code != http.StatusNoContent {
			fail("a successful DELETE that is not 204")
		}
		back := e.get(path, authz)
		if tokens {
			var tok api.Token
			if back.Code != http.StatusOK || json.Unmarshal(back.Body.Bytes(), &tok) != nil || tok.RevokedAt.IsNull() || !tok.RevokedAt.IsSpecified() {
				fail("the revoked token does not read back as revoked: %d %s", back.Code, back.Body.Bytes())
			}
			return
		}
		if back.Code != http.StatusNotFound {
			fail("the deleted region still reads: %d %s", back.Code, back.Body.Bytes())
		}
	}
}

// sameRepresentation: a write's answer and a read right after it carry the same region and tag.
func sameRepresentation(wrote, read *httptest.ResponseRecorder, fail func(string, ...any)) {
	var a, b map[string]any
	if json.Unmarshal(wrote.Body.Bytes(), &a) != nil || json.Unmarshal(read.Body.Bytes(), &b) != nil || !reflect.DeepEqual(a, b) {
		fail("the write answered one region and reading it back gives another: %s", read.Body.Bytes())
	}
	if wrote.Header().Get("ETag") != read.Header().Get("ETag") {
		fail("the write's ETag %q is not the read's %q", wrote.Header().Get("ETag"), read.Header().Get("ETag"))
	}
}
