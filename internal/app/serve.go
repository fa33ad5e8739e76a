package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/regiond/regiond/internal/config"
	"github.com/regiond/regiond/internal/logwriter"
	"github.com/regiond/regiond/internal/server"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/token"
	"github.com/regiond/regiond/internal/tracing"
)

// ServeCmd serves the API; its flags are config.Serve.
type ServeCmd struct {
	config.Serve
}

func (c *ServeCmd) validate() error {
	if err := validateDB(c.DB); err != nil {
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
	if c.ListChunk < 1 {
		return fmt.Errorf("--list-chunk must be at least 1")
	}
	for name, d := range map[string]time.Duration{"--read-header-timeout": c.ReadHeaderTimeout, "--read-timeout": c.ReadTimeout,
		"--write-timeout": c.WriteTimeout, "--idle-timeout": c.IdleTimeout, "--drain-timeout": c.DrainTimeout,
		"--stream-timeout": c.StreamTimeout, "--audit-prune-interval": c.AuditPruneInterval} {
		if d <= 0 {
			return fmt.Errorf("%s must be positive", name)
		}
	}
	if err := validateProbe(c.Probe); err != nil {
		return err
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
	setGCPercent()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return c.serve(ctx, env, nil)
}

// gcPercent is the Go garbage collector's target regiond serves with when GOGC is not set.
// regiond's live heap is small (about 4 MB with the spec, the router and the list cache), so at
// Go's default of 100 the collector runs every couple of thousand list requests and takes about a
// tenth of the instructions spent on each (callgrind). At 200 it runs half as often, for about
// 7 MiB more memory (peak RSS 48 → 55 MiB under make bench's list load); GOMEMLIMIT still bounds
// the heap (the Kubernetes manifest sets it). GOGC, when set, wins.
const gcPercent = 200

func setGCPercent() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
}

// serve runs until ctx ends, then shuts down gracefully. ready, when set, receives the listening
// address once the server accepts connections (for tests).
func (c *ServeCmd) serve(ctx context.Context, env *Env, ready chan<- string) error {
	log := newLogger(env.Stderr, c.LogLevel, c.LogFormat)
	// The request log goes straight to the log's writer when that gathers JSON lines of level info:
	// the logwriter keeps each write whole, and slog's machinery is the request's dearest part.
	var requestLog io.Writer
	if c.LogFlushInterval > 0 {
		lw := logwriter.New(env.Stderr, c.LogFlushInterval)
		defer lw.Close()
		log = slog.New(logwriter.FlushOn(newLogger(lw, c.LogLevel, c.LogFormat).Handler(), lw, slog.LevelWarn))
		if c.LogFormat == "json" && log.Enabled(ctx, slog.LevelInfo) {
			requestLog = lw
		}
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
	srv, err := server.New(ctx, server.Config{API: c.API, Store: st, Logger: log, RequestLog: requestLog, Tracing: tracingOn})
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
	stopProbes, err := startProber(c.Probe, st, log)
	if err != nil {
		return err
	}
	defer stopProbes() // before the store closes: it waits for the probes in flight

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

// open connects to the database and migrates it, tracing its statements when requests are traced.
func (c *ServeCmd) open(ctx context.Context, log *slog.Logger) (*store.Store, error) {
	return openStore(ctx, c.DB, log, tracing.Enabled(c.OTLPEndpoint))
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
