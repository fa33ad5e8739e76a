package server

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.opentelemetry.io/otel/trace"

	"github.com/regiond/regiond/internal/problem"
)

const (
	headerRequestID = "X-Request-Id"
	ctxRequestID    = "regiond.request_id"
	ctxTokenID      = "regiond.token_id"
)

// requestID takes the caller's X-Request-ID when it is a sane one (short, of the characters ids
// and trace headers use: it goes into log lines and headers) and makes one otherwise, and returns it on the response.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(headerRequestID)
		if !saneRequestID(id) {
			id = newRequestID()
		}
		c.Set(ctxRequestID, id)
		c.Response().Header()[headerRequestID] = []string{id}
		return next(c)
	}
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

func newRequestID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

func requestIDOf(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

// observe counts and times every request, and writes one log line for it. The line names the
// token by id, never by value, and the route by its template.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err) // writes the problem response now, so that its status is the one recorded
		}
		elapsed := time.Since(start)
		req, res := c.Request(), c.Response()
		route := c.Path() // a registered route template even for 404 and 405: a bounded label set
		if route == "" {
			route = "unmatched"
		}
		s.metrics.observe(req.Method, route, res.Status, elapsed)
		if *s.cfg.AccessLog {
			tokenID, _ := c.Get(ctxTokenID).(string)
			attrs := []slog.Attr{}
			if sc := trace.SpanContextFromContext(req.Context()); sc.IsValid() {
				attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
			}
			s.log.LogAttrs(req.Context(), slog.LevelInfo, "request", append(attrs,
				slog.String("method", req.Method),
				slog.String("route", route),
				slog.String("path", req.URL.Path),
				slog.Int("status", res.Status),
				slog.Float64("latency_ms", float64(elapsed.Microseconds())/1000),
				slog.Int64("bytes", res.Size),
				slog.String("request_id", requestIDOf(c)),
				slog.String("token_id", tokenID),
				slog.String("remote", c.RealIP()),
			)...)
		}
		return nil
	}
}

// recoverPanics turns a panic into a 500 problem and a log line with the stack. The stack goes
// to the log only, never to the client. http.ErrAbortHandler passes through: it is how a handler
// aborts a response it has started (a streamed list whose database read failed).
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.log.Error("panic", "request_id", requestIDOf(c), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				s.metrics.errors.WithLabelValues("panic").Inc()
				err = problem.New(http.StatusInternalServerError, internalDetail(c))
			}
		}()
		return next(c)
	}
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

// securityHeaders sets the headers every response carries. API responses are not stored by
// caches (they may carry secrets) unless a handler says otherwise; the docs set their own CSP.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h["X-Content-Type-Options"] = nosniff
		h["X-Frame-Options"] = deny
		h["Referrer-Policy"] = noReferrer
		h["Content-Security-Policy"] = apiCSP
		h["Cache-Control"] = noStore
		h["Vary"] = varyAuth
		if c.Request().TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		return next(c)
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

// limitBody refuses bodies over the limit with 413: at once when Content-Length says so, and
// while reading otherwise.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	limit := s.cfg.BodyLimit
	return func(c echo.Context) error {
		req := c.Request()
		if req.ContentLength > limit {
			return tooLarge(limit)
		}
		if req.Body != nil && req.Body != http.NoBody {
			req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
		}
		return next(c)
	}
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
