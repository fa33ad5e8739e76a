package server

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/regiond/regiond/internal/problem"
	"github.com/regiond/regiond/internal/token"
)

const headerRequestID = "X-Request-Id"

// call is what the server knows about one request as it passes through: made by front, completed
// by the gate, read by handlers (through the request's context) and by the error handler and the
// access log (through Echo's context).
type call struct {
	requestID string
	traceID   string          // when tracing: set by the gate, which runs inside the request's span
	principal token.Principal // empty until the gate authenticates the token
	abandoned bool            // the client went away: nothing is written, the connection is closed
	aborted   bool            // the response was cut off after it began (errAborted)
}

// callCtxKey carries the call in the request's context, where both Echo's side (the gate, the
// error handler) and the handlers find it: one allocation, no Echo context map.
type callCtxKey struct{}

// callOf returns the request's call; every route passes front, so there is one.
func callOf(c echo.Context) *call { return callFrom(c.Request().Context()) }

func callFrom(ctx context.Context) *call {
	if cl, ok := ctx.Value(callCtxKey{}).(*call); ok {
		return cl
	}
	return &call{}
}

func requestIDOf(c echo.Context) string { return callOf(c).requestID }

// front is the first middleware of every request, in one function because Echo v4 builds its
// middleware chain anew for each request (a closure per middleware per request). It:
//   - takes the caller's X-Request-ID when it is a sane one (short, of the characters ids and trace
//     headers use: it goes into log lines and headers), makes one otherwise, and returns it;
//   - sets the security headers every response carries;
//   - refuses bodies over the limit with 413 (at once by Content-Length, otherwise while reading);
//   - turns a panic into a 500 problem, with the stack in the log only;
//   - counts and times the request, and writes one log line for it, naming the token by id,
//     never by value, and the route by its template — a response aborted midway (errAborted)
//     included, before the connection is cut.
func (s *Server) front(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		req, res := c.Request(), c.Response()
		cl, req := s.begin(req, res.Header())
		c.SetRequest(req)
		err := s.guarded(c, next)
		if cl.aborted = errors.Is(err, errAborted); err != nil && !cl.aborted {
			c.Error(err) // writes the problem response now, so that its status is the one recorded
		}
		route := c.Path() // a registered route template even for 404 and 405: a bounded label set
		if route == "" {
			route = "unmatched"
		}
		s.finish(req, cl, route, res.Status, res.Size, time.Since(start))
		if cl.abandoned || cl.aborted {
			// net/http closes the connection without ending the response: a client that went away
			// gets nothing, and one whose stream was cut off sees a broken response, never a short
			// one that looks whole.
			panic(http.ErrAbortHandler)
		}
		return nil
	}
}

// begin starts a request: its call (request id), carried by the returned request's context,
// and the headers every response carries.
func (s *Server) begin(req *http.Request, h http.Header) (*call, *http.Request) {
	id := req.Header.Get(headerRequestID)
	if !saneRequestID(id) {
		id = newRequestID()
	}
	cl := &call{requestID: id}
	h[headerRequestID] = []string{id}
	setSecurityHeaders(h, req)
	return cl, req.WithContext(context.WithValue(req.Context(), callCtxKey{}, cl))
}

// finish counts and times a request, and writes its log line.
func (s *Server) finish(req *http.Request, cl *call, route string, status int, size int64, elapsed time.Duration) {
	s.metrics.observe(req.Method, route, status, elapsed)
	if cl.aborted {
		s.metrics.errors.WithLabelValues(abortedKind).Inc()
	}
	if *s.cfg.AccessLog {
		s.accessLog(req, cl, route, status, size, elapsed)
	}
}

// guarded applies the body limit and runs the rest of the chain, recovering a panic.
func (s *Server) guarded(c echo.Context, next echo.HandlerFunc) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic", "request_id", requestIDOf(c), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			s.metrics.errors.WithLabelValues("panic").Inc()
			err = problem.New(http.StatusInternalServerError, internalDetail(c))
		}
	}()
	req := c.Request()
	if req.ContentLength > s.cfg.BodyLimit {
		return tooLarge(s.cfg.BodyLimit)
	}
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = http.MaxBytesReader(c.Response(), req.Body, s.cfg.BodyLimit)
	}
	return next(c)
}

func (s *Server) accessLog(req *http.Request, cl *call, route string, status int, size int64, elapsed time.Duration) {
	attrs := make([]slog.Attr, 0, 11)
	if cl.traceID != "" {
		attrs = append(attrs, slog.String("trace_id", cl.traceID))
	}
	remote, _, _ := net.SplitHostPort(req.RemoteAddr)
	attrs = append(attrs,
		slog.String("method", req.Method),
		slog.String("route", route),
		slog.String("path", req.URL.Path),
		slog.Int("status", status),
		slog.Float64("latency_ms", float64(elapsed.Microseconds())/1000),
		slog.Int64("bytes", size),
		slog.String("request_id", cl.requestID),
		slog.String("token_id", cl.principal.TokenID),
		slog.String("remote", remote),
	)
	if cl.aborted {
		attrs = append(attrs, slog.Bool("aborted", true))
	}
	s.log.LogAttrs(req.Context(), slog.LevelInfo, "request", attrs...)
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.:/+=@", c) >= 0) {
			return false
		}
	}
	return true
}

// newRequestID makes a request id. It needs to be unique, not unguessable: math/rand/v2's
// per-thread generator is far cheaper than crypto/rand on every request.
func newRequestID() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

func internalDetail(c echo.Context) string {
	return "an unexpected error occurred; it has been logged with request id " + requestIDOf(c)
}

// Header values are shared slices, assigned without canonicalising: the keys are canonical.
var (
	nosniff        = []string{"nosniff"}
	deny           = []string{"DENY"}
	noReferrer     = []string{"no-referrer"}
	noStore        = []string{"no-store"}
	varyAuth       = []string{"Authorization"}
	apiCSP         = []string{"default-src 'none'; frame-ancestors 'none'"}
	privateNoCache = []string{"private, no-cache"}
)

// setSecurityHeaders sets the headers every response carries: the ones that matter for JSON
// (OWASP's REST list: no sniffing, no framing, no storing — CSP's frame-ancestors is what
// X-Frame-Options was, and a cache must not store a response to an authorized request anyway, so
// Vary: Authorization would add nothing). HTML pages (the docs) add their own. Few headers keep the
// hot path cheap: net/http clones, sorts and writes each one on every response.
func setSecurityHeaders(h http.Header, req *http.Request) {
	h["X-Content-Type-Options"] = nosniff
	h["Content-Security-Policy"] = apiCSP
	h["Cache-Control"] = noStore
	if req.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
}

// cors allows the configured origins to call the API from a browser, with the token header.
func (s *Server) cors() echo.MiddlewareFunc {
	return middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOrigins:  s.cfg.CORSOrigins,
		AllowMethods:  []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
		AllowHeaders:  []string{"Authorization", "Content-Type", "If-Match", "If-None-Match", headerRequestID},
		ExposeHeaders: []string{"ETag", "Link", "Location", "X-Total-Count", "Retry-After", headerRequestID},
		MaxAge:        600,
	})
}

func tooLarge(limit int64) *problem.Error {
	return problem.New(http.StatusRequestEntityTooLarge, "the request body is larger than "+strconv.FormatInt(limit, 10)+" bytes")
}

// bearer strips an optional "Bearer " from an Authorization header: Rainbond sends the bare token.
func bearer(h string) string {
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return strings.TrimSpace(h)
}
