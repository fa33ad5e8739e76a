// Package apitest starts a real regiond server on loopback for tests, over a real database, and
// gives clients whose every response is validated against openapi.yaml — including that its
// status code is one the spec documents for the operation.
package apitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/apispec"
	"github.com/regiond/regiond/internal/config"
	"github.com/regiond/regiond/internal/secrets"
	"github.com/regiond/regiond/internal/server"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/token"
)

// Enterprise is the enterprise of the Env's admin token.
const Enterprise = "e1"

// Env is a running server.
type Env struct {
	t        testing.TB
	URL      string
	Store    *store.Store
	Server   *server.Server
	Admin    string // a token with every scope in Enterprise
	Logs     *SyncBuffer
	router   routers.Router
	httpSrv  *http.Server
	stopPoll context.CancelFunc

	mu      sync.Mutex
	secrets []string // every token value made for this Env: none may reach the log
}

// Secret registers a value that must never appear in the server's log (a token, key material).
func (e *Env) Secret(v string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.secrets = append(e.secrets, v)
}

// checkLogs fails the test when the server's log holds a registered secret or any private key.
func (e *Env) checkLogs() {
	logs := e.Logs.String()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.secrets {
		if s != "" && strings.Contains(logs, s) {
			e.t.Errorf("the server log contains a secret (%.8s...)", s)
		}
	}
	if strings.Contains(logs, "PRIVATE KEY") {
		e.t.Errorf("the server log contains private key material")
	}
}

// Options change how Start builds the server.
type Options struct {
	// Keyring encrypts key_file; by default a fresh random key. NoKeyring leaves it out.
	Keyring   *secrets.Keyring
	NoKeyring bool
	// Store adjusts the store's options (query timeout, pool size).
	Store func(*store.Options)
	// Server adjusts the server's configuration.
	Server func(*server.Config)
	// HTTP adjusts the HTTP server (timeouts).
	HTTP func(*http.Server)
}

// Start runs a server over the database dsn (migrated here) until the test ends.
func Start(t testing.TB, dsn string, opts Options) *Env {
	t.Helper()
	ctx := context.Background()
	keyring := opts.Keyring
	if keyring == nil && !opts.NoKeyring {
		var err error
		if keyring, err = secrets.Parse(secrets.GenerateKey()); err != nil {
			t.Fatal(err)
		}
	}
	logs := &SyncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	defaults := config.Defaults()
	storeOpts := store.Options{Keyring: keyring, Logger: log, MaxOpenConns: 8, QueryTimeout: defaults.DBTimeout}
	if opts.Store != nil {
		opts.Store(&storeOpts)
	}
	st, err := store.Open(ctx, dsn, storeOpts)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{API: defaults.API, Store: st, Logger: log, RequestLog: logs}
	// Tests make many requests a second, good and bad, from one address: the limits are off but in
	// the tests of limits, which set them.
	cfg.RateLimit, cfg.AuthFailRate = 0, 0
	cfg.CacheStaleness = 200 * time.Millisecond
	if opts.Server != nil {
		opts.Server(&cfg)
	}
	srv, err := server.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpSrv := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	if opts.HTTP != nil {
		opts.HTTP(httpSrv)
	}
	go httpSrv.Serve(ln)
	pollCtx, stopPoll := context.WithCancel(ctx)
	go srv.Run(pollCtx)

	spec, err := apispec.Load()
	if err != nil {
		t.Fatal(err)
	}
	spec.Servers = openapi3.Servers{{URL: "http://" + ln.Addr().String() + cfg.BasePath}}
	router, err := legacy.NewRouter(spec)
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{t: t, URL: "http://" + ln.Addr().String() + cfg.BasePath, Store: st, Server: srv, Logs: logs,
		router: router, httpSrv: httpSrv, stopPoll: stopPoll}
	e.Admin = e.Token(t, Enterprise, token.AllScopes...)
	t.Cleanup(e.checkLogs) // runs after Close: the log is complete
	// Wait for the first generation poll, so that cached lists are served from the start.
	deadline := time.Now().Add(5 * time.Second)
	for !srv.Polled() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	t.Cleanup(e.Close)
	return e
}

// Close stops the server and closes the database.
func (e *Env) Close() {
	e.stopPoll()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.httpSrv.Shutdown(ctx)
	e.Store.Close()
}

// Token stores a new token with these scopes in an enterprise and returns its value.
func (e *Env) Token(t testing.TB, enterprise string, scopes ...token.Scope) string {
	t.Helper()
	tk, secret := token.Mint(token.Token{EnterpriseID: enterprise, Scopes: scopes, CreatedBy: "test"}, "")
	return e.StoreToken(t, tk, secret)
}

// StoreToken stores a token made by the test (expired, revoked...) and returns secret.
func (e *Env) StoreToken(t testing.TB, tk token.Token, secret string) string {
	t.Helper()
	e.Secret(secret)
	tk.Hash, tk.Prefix = token.Hash(secret), token.PrefixOf(secret)
	if err := e.Store.CreateToken(context.Background(), tk, store.AuditEvent{EnterpriseID: tk.EnterpriseID, TokenID: "test", Operation: store.OpTokenCreate}); err != nil {
		t.Fatal(err)
	}
	return secret
}

// Client is a generated client that sends tok (in Rainbond's bare form) and validates every
// response against the spec.
func (e *Env) Client(tok string) *api.ClientWithResponses {
	c, err := api.NewClientWithResponses(e.URL, api.WithHTTPClient(e.HTTPClient()), api.WithRequestEditorFn(
		func(_ context.Context, req *http.Request) error {
			if tok != "" {
				req.Header.Set("Authorization", tok)
			}
			return nil
		}))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// HTTPClient is a plain HTTP client whose every response is validated against the spec.
func (e *Env) HTTPClient() *http.Client {
	return &http.Client{Transport: validating{e: e, next: http.DefaultTransport}, Timeout: 30 * time.Second}
}

// Do sends a raw request through the validating client and returns the response with its body
// read.
func (e *Env) Do(method, path, tok, contentType string, body []byte, headers ...string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	if tok != "" {
		req.Header.Set("Authorization", tok)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.HTTPClient().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

// validating checks each response against the operation the spec describes for its request.
type validating struct {
	e    *Env
	next http.RoundTripper
}

func (v validating) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := v.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return resp, nil // the caller sees the short body
	}
	check := req.Clone(req.Context())
	check.Body = io.NopCloser(bytes.NewReader(reqBody))
	if msg := v.e.validate(check, resp, body); msg != "" {
		v.e.t.Errorf("response does not match openapi.yaml: %s %s -> %d: %s\nbody: %.500s", req.Method, req.URL.Path, resp.StatusCode, msg, body)
	}
	return resp, nil
}

// validate returns what is wrong with a response, or "". Requests outside the spec (docs,
// metrics, unknown routes) must still answer errors as problem+json. A HEAD is checked as the GET
// it stands for, but for its body, which it has none of.
func (e *Env) validate(req *http.Request, resp *http.Response, body []byte) string {
	head := req.Method == http.MethodHead
	if head {
		req = req.Clone(req.Context())
		req.Method = http.MethodGet
	}
	route, params, err := e.router.FindRoute(req)
	for _, v := range params {
		if v == "" { // the legacy router matches /regions to /regions/{region_id} with an empty id
			err = errors.New("no route")
		}
	}
	if err != nil {
		if resp.StatusCode >= 400 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
			return "an error outside the spec's routes is not application/problem+json"
		}
		return ""
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: head},
	}
	if err := openapi3filter.ValidateResponse(req.Context(), input); err != nil {
		var me openapi3.MultiError
		if errors.As(err, &me) && len(me) == 0 {
			return ""
		}
		return err.Error()
	}
	return ""
}

// SyncBuffer is a bytes.Buffer safe for concurrent writes: the server's log.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Take returns what was written and empties the buffer.
func (b *SyncBuffer) Take() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	b.buf.Reset()
	return s
}

// Snapshot dumps every table regiond writes, so that a test can assert that a refused request
// changed nothing.
func (e *Env) Snapshot() string {
	e.t.Helper()
	w, _ := e.Store.DBs()
	var out strings.Builder
	for _, q := range []string{
		"SELECT * FROM region_info ORDER BY region_id",
		// last_used_at is left out: a refused request still uses its token.
		"SELECT id, enterprise_id, prefix, hash, scopes, note, created_at, expires_at, revoked_at, created_by FROM regiond_token ORDER BY id",
		"SELECT * FROM regiond_audit ORDER BY id",
		"SELECT * FROM regiond_generation ORDER BY enterprise_id",
	} {
		rows, err := w.Query(q)
		if err != nil {
			e.t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				e.t.Fatal(err)
			}
			for i, v := range vals {
				if i > 0 {
					out.WriteByte('|')
				}
				switch x := v.(type) {
				case []byte:
					out.Write(x)
				default:
					fmt.Fprint(&out, x)
				}
			}
			out.WriteByte('\n')
		}
		rows.Close()
		out.WriteString("--\n")
	}
	return out.String()
}

// ValidateRaw validates a made-up response to a request, for testing the validator itself.
func (e *Env) ValidateRaw(method, path string, status int, contentType, body string) string {
	req, _ := http.NewRequest(method, e.URL+path, nil)
	resp := &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {contentType}}}
	return e.validate(req, resp, []byte(body))
}

// Status is a status for a request body of the generated client, as it sends it: the string.
func Status(st api.RegionStatus) *api.RegionStatusInput {
	var in api.RegionStatusInput
	if err := in.FromRegionStatus(st); err != nil {
		panic(err) // a string always encodes
	}
	return &in
}
