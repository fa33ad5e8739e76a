// Package server implements the generated API (gen/api) over the store: the handlers, and the
// spec-driven gate every API request passes — authentication, scopes, rate limit and request
// validation against openapi.yaml.
package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/github.com/labstack/echo/otelecho"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/apispec"
	"github.com/regiond/regiond/internal/docs"
	"github.com/regiond/regiond/internal/listcache"
	"github.com/regiond/regiond/internal/pagetoken"
	"github.com/regiond/regiond/internal/retention"
	"github.com/regiond/regiond/internal/store"
)

// Config is what the server needs. Zero values take the documented defaults.
type Config struct {
	Store  *store.Store
	Logger *slog.Logger
	// Registry receives the server's metrics; nil makes a private one.
	Registry *prometheus.Registry
	// BasePath serves everything under a path prefix ("/regiond"); "" serves at the root.
	BasePath string
	// RequireIfMatch answers 428 to PUT, PATCH and DELETE without If-Match.
	RequireIfMatch bool
	// RateLimit is each token's sustained requests per second (0: no limit); RateBurst its burst.
	RateLimit float64
	RateBurst int
	// AuthFailRate is each client address's sustained failed authentications per second (0: no
	// limit); AuthFailBurst its burst. Past it, the address's requests with tokens not known to be
	// valid get 429 without a database lookup.
	AuthFailRate  float64
	AuthFailBurst int
	// BodyLimit caps request bodies, in bytes (default 1 MiB).
	BodyLimit int64
	// Staleness bounds how long a write on another replica may stay unseen by this one's cached
	// lists and tokens (default 1s).
	Staleness time.Duration
	// ListCacheBytes bounds the memory of pre-encoded lists (default 64 MiB).
	ListCacheBytes int64
	// StreamTimeout bounds the streaming of a whole large list (default 2m).
	StreamTimeout time.Duration
	// ListChunk is how many regions a streamed list reads per query (default 500).
	ListChunk int
	// MaxListStreams bounds the lists streamed at once by this replica (default 16), and
	// MaxListStreamsPerToken those of one token (default 2).
	MaxListStreams, MaxListStreamsPerToken int
	// CORSOrigins allows cross-origin calls from these origins ("*" for any); none by default.
	CORSOrigins []string
	// AccessLog writes one log line per request (default on; the benchmark measures both).
	AccessLog *bool
	// Tracing traces every request with OpenTelemetry (the global tracer provider).
	Tracing bool
	// AuditRetention is the age past which audit events are deleted (0: kept forever; the command
	// line's default is 400 days); AuditPruneInterval separates the passes (default 1h).
	AuditRetention     time.Duration
	AuditPruneInterval time.Duration
}

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	if c.BodyLimit <= 0 {
		c.BodyLimit = 1 << 20
	}
	if c.Staleness <= 0 {
		c.Staleness = time.Second
	}
	if c.ListCacheBytes <= 0 {
		c.ListCacheBytes = 64 << 20
	}
	if c.StreamTimeout <= 0 {
		c.StreamTimeout = 2 * time.Minute
	}
	if c.ListChunk <= 0 {
		c.ListChunk = 500
	}
	if c.MaxListStreams <= 0 {
		c.MaxListStreams = 16
	}
	if c.MaxListStreamsPerToken <= 0 {
		c.MaxListStreamsPerToken = 2
	}
	if c.RateBurst <= 0 {
		c.RateBurst = int(2 * c.RateLimit)
	}
	if c.AuthFailBurst <= 0 {
		c.AuthFailBurst = int(2 * c.AuthFailRate)
	}
	if c.AccessLog == nil {
		on := true
		c.AccessLog = &on
	}
}

// Server is the regiond HTTP server.
type Server struct {
	cfg     Config
	store   *store.Store
	log     *slog.Logger
	ops     operations
	cache   *listcache.Cache
	auth    *authenticator
	limiter *limiter
	streams *streamLimiter
	pages   pagetoken.Codec
	metrics *metrics
	echo    *echo.Echo
	// draining: the process is shutting down; readiness fails so that traffic moves elsewhere.
	draining atomic.Bool
	// The seed's call, taken before Echo when it can be (hotpath.go).
	hotPath             bool
	listPath, listRoute string
	pruner              *retention.AuditPruner // nil when audit events are kept forever
}

// Polled reports whether the generations were polled recently enough for cached lists to be
// served.
func (s *Server) Polled() bool { return s.cache.Fresh() }

// SetDraining makes /readyz fail from now on, and every response close its connection: the
// process is about to stop.
func (s *Server) SetDraining() { s.draining.Store(true) }

var _ api.StrictServerInterface = (*Server)(nil)

// New builds the server. It reads the page-token key from the database (making it on first use),
// so the database must be migrated.
func New(ctx context.Context, cfg Config) (*Server, error) {
	cfg.defaults()
	spec, err := apispec.Load()
	if err != nil {
		return nil, err
	}
	ops, err := loadOperations(spec, cfg.BasePath)
	if err != nil {
		return nil, err
	}
	key, err := cfg.Store.Meta(ctx, "page_token_key", func() string {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			panic(err)
		}
		return base64.StdEncoding.EncodeToString(b)
	})
	if err != nil {
		return nil, fmt.Errorf("reading the page-token key: %w", err)
	}
	rawKey, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return nil, fmt.Errorf("the stored page-token key is corrupt: %w", err)
	}
	s := &Server{
		cfg:   cfg,
		store: cfg.Store,
		log:   cfg.Logger,
		ops:   ops,
		cache: listcache.New(cfg.ListCacheBytes, cfg.Staleness),
		auth: newAuthenticator(cfg.Store, cfg.Staleness,
			newLimiter(cfg.AuthFailRate, cfg.AuthFailBurst, "too many failed authentications from this address"), cfg.Logger),
		limiter: newLimiter(cfg.RateLimit, cfg.RateBurst, "request rate limit exceeded"),
		streams: newStreamLimiter(cfg.MaxListStreamsPerToken, cfg.MaxListStreams),
		pages:   pagetoken.New(rawKey),
	}
	if cfg.AuditRetention > 0 {
		s.pruner = &retention.AuditPruner{Store: cfg.Store, Retention: cfg.AuditRetention, Holder: replicaName(),
			Log: cfg.Logger, Interval: cfg.AuditPruneInterval}
	}
	s.metrics = newMetrics(cfg.Registry, s)
	s.listPath = cfg.BasePath + "/openapi/v1/regions"
	s.listRoute = s.listPath // the route template Echo reports for it
	s.hotPath = !cfg.Tracing && len(cfg.CORSOrigins) == 0
	if s.echo, err = s.routes(); err != nil {
		return nil, err
	}
	return s, nil
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Run does the server's background work until ctx ends: it polls the database for writes made by
// other replicas, so that cached lists and tokens stay within the staleness bound, and prunes the
// audit trail when this replica holds the pruning lease.
func (s *Server) Run(ctx context.Context) {
	if s.pruner != nil {
		go s.pruner.Run(ctx)
	}
	s.cache.Run(ctx, s.store.Generations, func(err error) {
		s.log.Warn("polling list generations failed; cached lists are bypassed until it succeeds", "error", err)
	})
}

// replicaName names this process among the replicas (in leases): the host, the process id and a
// random part, since containers often share host names and process ids.
func replicaName() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return fmt.Sprintf("%s/%d/%x", host, os.Getpid(), b)
}

// routes assembles the middleware and the routes.
func (s *Server) routes() (*echo.Echo, error) {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = echo.ExtractIPDirect()
	e.Use(s.front)
	if s.cfg.Tracing {
		// Spans are named by route template; the probes and metrics scrapes are left out.
		e.Use(otelecho.Middleware("regiond", otelecho.WithSkipper(func(c echo.Context) bool {
			p := strings.TrimPrefix(c.Path(), s.cfg.BasePath)
			return p == "/healthz" || p == "/readyz" || p == "/metrics"
		})))
	}
	if len(s.cfg.CORSOrigins) > 0 {
		e.Use(s.cors())
	}
	// The gate is global rather than a group's: a group's middleware would also claim every
	// unmatched path, turning 405s into 404s. It passes requests for other routes through.
	e.Use(s.gate)
	api.RegisterHandlersWithBaseURL(e, api.NewStrictHandler(s, nil), s.cfg.BasePath)

	if err := docs.Register(e, s.cfg.BasePath); err != nil {
		return nil, err
	}
	e.GET(s.cfg.BasePath+"/metrics", echo.WrapHandler(s.metrics.handler()))
	return e, nil
}
