package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/regiond/regiond/internal/logwriter"
	"github.com/regiond/regiond/internal/server"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/token"
	"github.com/regiond/regiond/internal/tracing"
)

// ServeCmd serves the API.
type ServeCmd struct {
	DBFlags
	Addr           string        `default:":8080" help:"Address to listen on."`
	BasePath       string        `placeholder:"/PREFIX" help:"Serve everything under this path prefix (API, docs, probes), for a reverse proxy that does not strip it."`
	Enterprise     string        `default:"default" help:"Enterprise of the admin token made on an empty database (or from REGIOND_ADMIN_TOKEN): 1 to 36 ASCII letters, digits, '.', '_' and '-', starting with a letter or digit."`
	RequireIfMatch bool          `help:"Answer 428 to PUT, PATCH and DELETE without If-Match."`
	RateLimit      float64       `default:"100" help:"Requests per second each token may make on average (0: no limit). Counted per replica: behind N replicas a token may make up to N times this (3 replicas x 100 = 300/s)."`
	RateBurst      int           `default:"200" help:"Requests a token may make in a burst."`
	AuthFailRate   float64       `default:"10" help:"Failed authentications per second a client address (the connection's, not a forwarded header's) may cause on average; past it, its requests with tokens this replica has not accepted get 429 without a database lookup. Requests with accepted tokens are never limited by it (0: no limit). Counted per replica, like --rate-limit."`
	AuthFailBurst  int           `default:"20" help:"Failed authentications a client address may cause in a burst."`
	BodyLimit      int64         `default:"1048576" help:"Largest request body accepted, in bytes."`
	CacheStaleness time.Duration `default:"1s" help:"How long a write on another replica may go unseen by this one's cached lists and tokens."`
	ListCacheBytes int64         `default:"67108864" help:"Memory for pre-encoded region lists; larger lists are streamed from the database."`
	CORSOrigins    []string      `name:"cors-origins" placeholder:"ORIGIN,..." help:"Origins allowed to call the API from a browser (none by default; * for any)."`

	MaxListStreams         int `default:"16" help:"Large lists this replica streams at once (lists too large for the list cache, filtered lists of more than 500 regions); beyond, 503 with Retry-After."`
	MaxListStreamsPerToken int `default:"2" help:"Large lists one token may have streaming at once on this replica; beyond, 429 with Retry-After."`

	ReadHeaderTimeout time.Duration `default:"5s" help:"Time to read a request's headers."`
	ReadTimeout       time.Duration `default:"30s" help:"Time to read a whole request."`
	WriteTimeout      time.Duration `default:"60s" help:"Time to write a response (a streamed large list extends its own)."`
	IdleTimeout       time.Duration `default:"120s" help:"How long an idle keep-alive connection stays open."`
	ShutdownDelay     time.Duration `default:"5s" help:"On SIGTERM, keep serving this long with /readyz failing and every response closing its connection, so that load balancers stop sending and clients move elsewhere first; longer than a load balancer takes to see /readyz fail."`
	DrainTimeout      time.Duration `default:"25s" help:"On SIGTERM, how long in-flight requests may take to finish."`

	AuditRetention Days `default:"400d" help:"Delete audit events older than this: days (400d) or a duration (720h); 0 keeps them forever. One replica at a time prunes, hourly, 500 events per statement."`

	PprofAddr    string `name:"pprof-addr" placeholder:"HOST:PORT" help:"Serve Go's profiler (/debug/pprof/) on this separate address, for diagnosis; keep it on localhost. Off by default."`
	OTLPEndpoint string `name:"otlp-endpoint" placeholder:"URL" help:"Send OpenTelemetry traces of requests and queries to this OTLP/HTTP collector (http://collector:4318). The standard OTEL_EXPORTER_OTLP_* variables work too."`

	LogLevel         string        `default:"info" enum:"debug,info,warn,error" help:"Least important log level written (${enum})."`
	LogFormat        string        `default:"json" enum:"json,text" help:"Log line format (${enum})."`
	AccessLog        bool          `default:"true" negatable:"" help:"Write one log line per request."`
	LogFlushInterval time.Duration `default:"200ms" help:"Gather log lines and write them out this often (warnings and errors at once, the rest on exit too); 0 writes every line as it comes."`
}

func (c *ServeCmd) validate() error {
	if err := c.DBFlags.validate(); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("--addr %q: want host:port or :port", c.Addr)
	}
	if c.BasePath != "" && (!strings.HasPrefix(c.BasePath, "/") || strings.HasSuffix(c.BasePath, "/")) {
		return fmt.Errorf("--base-path %q: must start with / and not end with one (like /regiond)", c.BasePath)
	}
	if err := token.CheckEnterpriseID(c.Enterprise); err != nil {
		return fmt.Errorf("--enterprise: %w", err)
	}
	if c.RateLimit < 0 || c.RateBurst < 0 {
		return fmt.Errorf("--rate-limit and --rate-burst cannot be negative")
	}
	if c.RateLimit > 0 && c.RateBurst < 1 {
		return fmt.Errorf("--rate-burst must be at least 1 when --rate-limit is set")
	}
	if c.AuthFailRate < 0 || c.AuthFailBurst < 0 {
		return fmt.Errorf("--auth-fail-rate and --auth-fail-burst cannot be negative")
	}
	if c.AuthFailRate > 0 && c.AuthFailBurst < 1 {
		return fmt.Errorf("--auth-fail-burst must be at least 1 when --auth-fail-rate is set")
	}
	if c.BodyLimit < 1024 {
		return fmt.Errorf("--body-limit must be at least 1024 bytes")
	}
	if c.CacheStaleness < 10*time.Millisecond {
		return fmt.Errorf("--cache-staleness must be at least 10ms")
	}
	if c.ListCacheBytes < 0 {
		return fmt.Errorf("--list-cache-bytes cannot be negative")
	}
	if c.MaxListStreams < 1 || c.MaxListStreamsPerToken < 1 {
		return fmt.Errorf("--max-list-streams and --max-list-streams-per-token must be at least 1")
	}
	for name, d := range map[string]time.Duration{"--read-header-timeout": c.ReadHeaderTimeout, "--read-timeout": c.ReadTimeout,
		"--write-timeout": c.WriteTimeout, "--idle-timeout": c.IdleTimeout, "--drain-timeout": c.DrainTimeout} {
		if d <= 0 {
			return fmt.Errorf("%s must be positive", name)
		}
	}
	if c.AuditRetention < 0 {
		return fmt.Errorf("--audit-retention cannot be negative (0 keeps audit events forever)")
	}
	if admin := os.Getenv("REGIOND_ADMIN_TOKEN"); admin != "" && len(admin) < 32 {
		return fmt.Errorf("REGIOND_ADMIN_TOKEN must be at least 32 characters (make one with `openssl rand -base64 32`)")
	}
	return nil
}

func (c *ServeCmd) Run(env *Env) error {
	if err := c.validate(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return c.serve(ctx, env, nil)
}

// serve runs until ctx ends, then shuts down gracefully. ready, when set, receives the listening
// address once the server accepts connections (for tests).
func (c *ServeCmd) serve(ctx context.Context, env *Env, ready chan<- string) error {
	log := newLogger(env.Stderr, c.LogLevel, c.LogFormat)
	if c.LogFlushInterval > 0 {
		lw := logwriter.New(env.Stderr, c.LogFlushInterval)
		defer lw.Close()
		log = slog.New(logwriter.FlushOn(newLogger(lw, c.LogLevel, c.LogFormat).Handler(), lw, slog.LevelWarn))
	}
	tracingOn := tracing.Enabled(c.OTLPEndpoint)
	if tracingOn {
		stopTracing, err := tracing.Start(ctx, c.OTLPEndpoint, Version)
		if err != nil {
			return err
		}
		defer func() {
			flush, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := stopTracing(flush); err != nil {
				log.Warn("flushing traces failed", "error", err)
			}
		}()
	}
	c.tracing = tracingOn
	st, err := c.open(ctx, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := requireKeys(ctx, st); err != nil {
		return err
	}
	if err := c.bootstrapAdmin(ctx, st, env, log); err != nil {
		return err
	}
	accessLog := c.AccessLog
	srv, err := server.New(ctx, server.Config{
		Store: st, Logger: log, BasePath: c.BasePath, RequireIfMatch: c.RequireIfMatch,
		RateLimit: c.RateLimit, RateBurst: c.RateBurst, AuthFailRate: c.AuthFailRate, AuthFailBurst: c.AuthFailBurst,
		BodyLimit: c.BodyLimit, Staleness: c.CacheStaleness,
		ListCacheBytes: c.ListCacheBytes, CORSOrigins: c.CORSOrigins, AccessLog: &accessLog, Tracing: tracingOn,
		AuditRetention: time.Duration(c.AuditRetention),
		MaxListStreams: c.MaxListStreams, MaxListStreamsPerToken: c.MaxListStreamsPerToken,
	})
	if err != nil {
		return err
	}
	httpSrv := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", c.Addr, err)
	}
	if c.PprofAddr != "" {
		// The profiler gets its own listener, never the API's: it must not be reachable by API users.
		pprofLn, err := net.Listen("tcp", c.PprofAddr)
		if err != nil {
			return fmt.Errorf("--pprof-addr %s: %w", c.PprofAddr, err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		pprofSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go pprofSrv.Serve(pprofLn)
		defer pprofSrv.Close()
		log.Info("serving the profiler", "addr", pprofLn.Addr().String())
	}
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	go srv.Run(bg)

	served := make(chan error, 1)
	go func() { served <- httpSrv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String(), "database", st.DSN().String(), "base_path", c.BasePath,
		"secret_encryption", st.Keyring().Enabled(), "tracing", tracingOn, "version", Version)
	if ready != nil {
		ready <- ln.Addr().String()
	}

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	// Graceful shutdown: fail readiness and close each connection after its next response, so that
	// load balancers stop sending and clients move elsewhere; then stop accepting, close the idle
	// connections and let in-flight requests finish within the drain timeout.
	log.Info("shutting down", "shutdown_delay", c.ShutdownDelay.String(), "drain_timeout", c.DrainTimeout.String())
	srv.SetDraining()
	time.Sleep(c.ShutdownDelay)
	drain, cancel := context.WithTimeout(context.Background(), c.DrainTimeout)
	defer cancel()
	if err := httpSrv.Shutdown(drain); err != nil {
		log.Error("in-flight requests did not finish within the drain timeout", "error", err)
		httpSrv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// bootstrapAdmin makes sure an admin can get in: the token in REGIOND_ADMIN_TOKEN is stored (once,
// whichever replica comes first), or on a database without tokens a new one is made and printed
// once on stdout — never in the log — by exactly one replica, however many start at once.
func (c *ServeCmd) bootstrapAdmin(ctx context.Context, st *store.Store, env *Env, log *slog.Logger) error {
	if secret := os.Getenv("REGIOND_ADMIN_TOKEN"); secret != "" {
		_, err := st.TokenByHash(ctx, token.Hash(secret))
		if errors.Is(err, store.ErrNotFound) {
			_, err = createToken(ctx, st, c.Enterprise, token.AllScopes, "bootstrap admin (REGIOND_ADMIN_TOKEN)", 0, secret)
			if errors.Is(err, store.ErrConflict) {
				err = nil // another replica stored it first
			}
			if err == nil {
				log.Info("stored the admin token from REGIOND_ADMIN_TOKEN", "enterprise", c.Enterprise)
			}
		}
		return err
	}
	t, ev, secret := newToken(c.Enterprise, token.AllScopes, "bootstrap admin", 0, "")
	created, err := st.CreateFirstToken(ctx, t, ev)
	if err != nil || !created {
		return err
	}
	log.Info("the database had no token: created an admin token and printed it on stdout, once", "enterprise", c.Enterprise)
	fmt.Fprintf(env.Stdout, "\nregiond: admin token for enterprise %q (shown once; store it now):\n\n    %s\n\n"+
		"    curl -H 'Authorization: %s' http://localhost%s/openapi/v1/regions\n\n", c.Enterprise, secret, secret, portOf(c.Addr))
	return nil
}

// Days is a duration flag that also reads whole days ("400d"), the unit retention is thought in.
type Days time.Duration

func (d *Days) UnmarshalText(text []byte) error {
	s := string(text)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseUint(n, 10, 32)
		if err != nil || days > 100000 {
			return fmt.Errorf("%q: want whole days (400d) or a duration (720h)", s)
		}
		*d = Days(time.Duration(days) * 24 * time.Hour)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q: want whole days (400d) or a duration (720h)", s)
	}
	*d = Days(v)
	return nil
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return ":" + port
}

// newLogger writes structured log lines to w.
func newLogger(w interface{ Write([]byte) (int, error) }, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
