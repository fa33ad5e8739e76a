// Package server assembles regiond's HTTP server: Echo with its stock middleware, the routes (the
// generated API's handlers, the docs, /metrics), and in front of Echo the list room, which answers
// Rainbond's bare list whole before any routing.
//
// A request's path: Handler → the list room (regionlist) when it Takes the request, else Echo →
// transport's middleware (request id, security headers, request log, recovery, body limit,
// validation with authentication) → handlers → store; errors become problems in transport.
package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/github.com/labstack/echo/otelecho"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/apispec"
	"github.com/regiond/regiond/internal/config"
	"github.com/regiond/regiond/internal/docs"
	"github.com/regiond/regiond/internal/handlers"
	"github.com/regiond/regiond/internal/health"
	"github.com/regiond/regiond/internal/regionlist"
	"github.com/regiond/regiond/internal/retention"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/transport"
)

// Config is what the server needs: its settings (config.API) and its dependencies.
type Config struct {
	config.API
	Store  *store.Store
	Logger *slog.Logger
	// RequestLog, when set, is the writer Logger writes JSON lines to: the request log lines are
	// written there straight, in the same format, cheaper than through slog. Without it they go
	// through Logger.
	RequestLog io.Writer
	// Registry receives the server's metrics; nil makes a private one.
	Registry *prometheus.Registry
	// Tracing traces every request with OpenTelemetry (the global tracer provider).
	Tracing bool
}

// Server is the regiond HTTP server.
type Server struct {
	room     *regionlist.Room
	handlers *handlers.Handlers
	echo     *echo.Echo
	pruner   *retention.AuditPruner // nil when audit events are kept forever
}

// New builds the server. It reads the page-token key from the database (making it on first use),
// so the database must be migrated.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	spec, err := apispec.Load()
	if err != nil {
		return nil, err
	}
	pages, err := pageKey(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	log, reg := cfg.Logger, cfg.Registry
	recorder := transport.NewRecorder(reg, log, cfg.AccessLog, cfg.RequestLog)
	errs := &transport.Errors{Log: log, Recorder: recorder, BodyLimit: cfg.BodyLimit}
	tokens := transport.NewAuthenticator(cfg.Store, cfg.CacheStaleness,
		transport.NewLimiter(cfg.AuthFailRate, cfg.AuthFailBurst, "too many failed authentications from this address"), log)
	authorizer := &transport.Authorizer{Tokens: tokens,
		Requests: transport.NewLimiter(cfg.RateLimit, cfg.RateBurst, "request rate limit exceeded")}
	options := *apispec.Options()
	options.AuthenticationFunc = authorizer.AuthenticationFunc
	validator, err := transport.NewValidator(spec, transport.ValidatorOptions{Options: options, Prefix: cfg.BasePath})
	if err != nil {
		return nil, err
	}
	room := regionlist.New(regionlist.Options{Store: cfg.Store, Settings: cfg.API, Validator: validator, Errors: errs,
		Recorder: recorder, Pages: transport.NewPages(pages, cfg.BasePath), Log: log, Registry: reg,
		TakeBareLists: !cfg.Tracing && len(cfg.CORSOrigins) == 0})
	prober, err := health.NewProber(cfg.Store, cfg.Probe)
	if err != nil {
		return nil, fmt.Errorf("--probe-deny-cidrs: %w", err)
	}
	s := &Server{room: room, handlers: handlers.New(handlers.Options{Store: cfg.Store, Lists: room, Tokens: tokens,
		Pages: transport.NewPages(pages, cfg.BasePath), BasePath: cfg.BasePath, RequireIfMatch: cfg.RequireIfMatch, Prober: prober})}
	if cfg.AuditRetention > 0 {
		s.pruner = &retention.AuditPruner{Store: cfg.Store, Retention: time.Duration(cfg.AuditRetention), Holder: ReplicaName(),
			Log: log, Interval: cfg.AuditPruneInterval}
	}
	reg.MustRegister(tokens.Collectors()...)
	reg.MustRegister(&health.Collector{Store: cfg.Store, Log: log})
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if writer, reader := cfg.Store.DBs(); writer == reader {
		reg.MustRegister(collectors.NewDBStatsCollector(writer, "main"))
	} else {
		reg.MustRegister(collectors.NewDBStatsCollector(writer, "writer"), collectors.NewDBStatsCollector(reader, "reader"))
	}
	if s.echo, err = routes(cfg, s.handlers, validator, errs, recorder); err != nil {
		return nil, err
	}
	return s, nil
}

// pageKey is the key page tokens are signed with, the same on every replica: read from the
// database, where the first replica stores a random one.
func pageKey(ctx context.Context, st *store.Store) ([]byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	key, err := st.Meta(ctx, "page_token_key", base64.StdEncoding.EncodeToString(b))
	if err != nil {
		return nil, fmt.Errorf("reading the page-token key: %w", err)
	}
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return nil, fmt.Errorf("the stored page-token key is corrupt: %w", err)
	}
	return raw, nil
}

// routes assembles Echo: its middleware, outermost first, and the routes.
func routes(cfg Config, h *handlers.Handlers, validator *transport.Validator, errs *transport.Errors, recorder *transport.Recorder) (*echo.Echo, error) {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errs.HandleEcho
	e.IPExtractor = echo.ExtractIPDirect()
	// HSTS only over the connection's own TLS: a caller's X-Forwarded-Proto does not count.
	e.SchemeExtractor = func(r *http.Request) string {
		if r.TLS != nil {
			return "https"
		}
		return "http"
	}
	e.Use(transport.Track,
		middleware.RequestIDWithConfig(transport.RequestIDConfig()),
		middleware.SecureWithConfig(transport.SecureConfig()),
		middleware.RequestLoggerWithConfig(transport.RequestLoggerConfig(recorder)),
		middleware.RecoverWithConfig(transport.RecoverConfig(errs)),
		middleware.BodyLimit(strconv.FormatInt(cfg.BodyLimit, 10)))
	if cfg.Tracing {
		// Spans are named by route template; the probes and metrics scrapes are left out.
		e.Use(otelecho.Middleware("regiond", otelecho.WithSkipper(func(c echo.Context) bool {
			p := strings.TrimPrefix(c.Path(), cfg.BasePath)
			return p == "/healthz" || p == "/readyz" || p == "/metrics"
		})), transport.TraceID)
	}
	if len(cfg.CORSOrigins) > 0 {
		// Browsers may call the API from these origins, with the token header.
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins:  cfg.CORSOrigins,
			AllowMethods:  []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
			AllowHeaders:  []string{"Authorization", "Content-Type", "If-Match", "If-None-Match", transport.HeaderRequestID},
			ExposeHeaders: []string{"ETag", "Link", "Location", "X-Total-Count", "Retry-After", transport.HeaderRequestID},
			MaxAge:        600,
		}))
	}
	e.Use(validator.Middleware)
	router := withHead{e}
	api.RegisterHandlersWithBaseURL(router, api.NewStrictHandler(h, nil), cfg.BasePath)
	if err := docs.Register(router, cfg.BasePath); err != nil {
		return nil, err
	}
	router.GET(cfg.BasePath+"/metrics", echo.WrapHandler(promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{})))
	return e, nil
}

// withHead registers every GET route for HEAD too (RFC 9110 9.3.2), with the same handler:
// net/http sends a HEAD response's status and headers and drops its body.
type withHead struct{ *echo.Echo }

func (r withHead) GET(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	r.Echo.HEAD(path, h, m...)
	return r.Echo.GET(path, h, m...)
}

// Handler is the server's HTTP handler: the list room for the requests it takes, Echo for the
// rest. While the process shuts down, every response says Connection: close: a client holding a
// keep-alive connection moves to another replica on its next request, told to, rather than finding
// the connection closed under it when the drain ends.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.handlers.Draining() {
			w.Header()["Connection"] = connectionClose
		}
		if s.room.Takes(r) {
			s.room.ServeHTTP(w, r)
			return
		}
		s.echo.ServeHTTP(w, r)
	})
}

var connectionClose = []string{"close"}

// SetDraining makes /readyz fail from now on, and every response close its connection: the
// process is about to stop.
func (s *Server) SetDraining() { s.handlers.SetDraining() }

// Polled reports whether the generations were polled recently enough for cached lists to be
// served.
func (s *Server) Polled() bool { return s.room.Fresh() }

// Run does the server's background work until ctx ends: the list room's generation poller, so
// that cached lists and tokens stay within the staleness bound, and the pruning of the audit trail
// when this replica holds the pruning lease.
func (s *Server) Run(ctx context.Context) {
	if s.pruner != nil {
		go s.pruner.Run(ctx)
	}
	s.room.Run(ctx)
}

// ReplicaName names this process among the replicas (in leases): the host, the process id and a
// random part, since containers often share host names and process ids.
func ReplicaName() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return fmt.Sprintf("%s/%d/%x", host, os.Getpid(), b)
}
