package app

import (
	"context"
	"fmt"
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/regiond/regiond/internal/config"
	"github.com/regiond/regiond/internal/health"
	"github.com/regiond/regiond/internal/probe"
	"github.com/regiond/regiond/internal/server"
	"github.com/regiond/regiond/internal/store"
)

// ProbeCmd runs the background health prober alone, without the API. `regiond serve` probes in
// its own process, where the Go runtime cannot put the API's requests first: a prober busy with
// hundreds of probes a second on a few cores lengthens the API's slowest requests several times
// (make bench's probing section). Run apart, at a lower CPU priority (nice, or a container with a
// small CPU share), the probes take only the CPU the API leaves; serve then runs with
// --probe-interval 0. It shares the schedule with every other prober on the database, as replicas
// of serve do, so any number of either can run.
type ProbeCmd struct {
	config.DB
	config.Probe
	config.Log
}

func (c *ProbeCmd) Run(env *Env) error {
	if err := validateProbe(c.Probe); err != nil {
		return err
	}
	if c.ProbeInterval == 0 {
		return fmt.Errorf("--probe-interval 0 turns the prober off: `regiond probe` has nothing else to do")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := newLogger(env.Stderr, c.LogLevel, c.LogFormat)
	st, err := openStore(ctx, c.DB, log, false) // it checks the database flags
	if err != nil {
		return err
	}
	defer st.Close()
	if err := requireKeys(ctx, st); err != nil {
		return err
	}
	stopProbes, err := startProber(c.Probe, st, log)
	if err != nil {
		return err
	}
	log.Info("probing", "database", st.DSN().String(), "probe_interval", c.ProbeInterval.String(), "probe_concurrency", c.ProbeConcurrency, "version", Version)
	<-ctx.Done()
	log.Info("shutting down: waiting for the probes in flight")
	stopProbes()
	log.Info("stopped")
	return nil
}

// validateProbe checks the prober's flags, for serve and for probe.
func validateProbe(p config.Probe) error {
	if p.ProbeInterval < 0 || p.ProbeTimeout <= 0 || p.ProbeConcurrency < 1 || p.CertWarnDays < 0 {
		return fmt.Errorf("--probe-interval cannot be negative (0 turns the prober off), --probe-timeout must be positive, --probe-concurrency at least 1, --cert-warn-days not negative")
	}
	if _, err := probe.ParseDenyList(p.ProbeDenyCIDRs); err != nil {
		return fmt.Errorf("--probe-deny-cidrs: %w", err)
	}
	return nil
}

// startProber starts the background health prober, unless --probe-interval is 0. stop ends it and
// waits for the probes in flight (each within --probe-timeout) to finish and be stored.
func startProber(cfg config.Probe, st *store.Store, log *slog.Logger) (stop func(), err error) {
	if cfg.ProbeInterval == 0 {
		log.Info("the background health prober is off (--probe-interval=0)")
		return func() {}, nil
	}
	prober, err := health.NewProber(st, cfg)
	if err != nil {
		return nil, fmt.Errorf("--probe-deny-cidrs: %w", err)
	}
	sched := &health.Scheduler{Prober: prober, Holder: server.ReplicaName(), Concurrency: cfg.ProbeConcurrency, Log: log}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		sched.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}, nil
}
