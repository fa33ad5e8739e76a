package health

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/regiond/regiond/internal/probe"
	"github.com/regiond/regiond/internal/store"
)

// Scheduler probes every due region in the background, sharing the work with the other replicas
// through claims on the store's health rows: it claims due regions only as it has room to probe
// them at once (at most Concurrency in flight), so that a claim never waits behind other probes
// and expires unprobed. A claim lasts twice the probe timeout and some; a replica that dies
// holding one only delays those regions until it expires. Results are written by one writer, many
// to a transaction.
type Scheduler struct {
	Prober *Prober
	// Holder names this replica in its claims; every replica needs its own.
	Holder      string
	Concurrency int
	Log         *slog.Logger

	// conns keeps each region's connection between its probes (see probe.Conns).
	conns    probe.Conns
	seq      atomic.Uint64
	inflight atomic.Int64
	freed    chan struct{}
	once     sync.Once
}

func (s *Scheduler) init() {
	s.once.Do(func() {
		if s.Concurrency < 1 {
			s.Concurrency = 1
		}
		if s.Log == nil {
			s.Log = slog.Default()
		}
		s.freed = make(chan struct{}, s.Concurrency)
	})
}

// interval is the scheduling interval: the prober's, 30s when unset.
func (s *Scheduler) interval() time.Duration {
	if s.Prober.Interval > 0 {
		return s.Prober.Interval
	}
	return fallbackInterval
}

// sweepEvery is how often a replica looks for regions without a place in the schedule
// (Store.AdoptRegions), or the interval when that is longer. Regions created through regiond are
// scheduled when they are created; the sweep catches those written by other tools, and reads
// every region, so it runs at start and then rarely.
const sweepEvery = 5 * time.Minute

// Run probes due regions until ctx ends, then waits for the probes in flight (each bounded by the
// probe timeout) and stores their results. It adopts regions missing from the schedule at start
// and every sweepEvery, and looks for due regions every quarter interval (at most every second)
// while it has room, at once when every slot was filled.
func (s *Scheduler) Run(ctx context.Context) {
	s.init()
	defer s.conns.Close()
	b := s.newBatch(ctx)
	defer b.finish()
	tick := min(s.interval()/4, time.Second)
	var adopted time.Time
	failing := false
	for {
		if now := s.Prober.now(); adopted.IsZero() || now.Sub(adopted) >= max(sweepEvery, s.interval()) {
			if err := s.Prober.Store.AdoptRegions(ctx, now); err != nil && ctx.Err() == nil {
				s.Log.Warn("adding new regions to the probe schedule failed; retried at the next pass", "error", err)
			} else {
				adopted = now
			}
		}
		free := s.Concurrency - int(s.inflight.Load())
		started, err := s.start(ctx, b, free)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			// Once per outage, not once per tick.
			s.Log.Warn("claiming due regions to probe failed; retried every tick until it works", "error", err)
			failing = true
		case err == nil && failing:
			s.Log.Info("claiming due regions to probe works again")
			failing = false
		}
		if started < free || err != nil {
			// Nothing more is due now: look again in a while.
			select {
			case <-ctx.Done():
				return
			case <-time.After(tick):
			}
			continue
		}
		// Every slot was filled: go on once half of them are free again (claiming slot by slot
		// would cost three statements per probe).
		for s.Concurrency-int(s.inflight.Load()) < max(1, s.Concurrency/2) {
			select {
			case <-ctx.Done():
				return
			case <-s.freed:
			}
		}
	}
}

// Pass claims up to Concurrency due regions, probes them, stores the results and returns how many
// it probed. Run does the same continuously; tests call Pass to take one step at a time.
func (s *Scheduler) Pass(ctx context.Context) (int, error) {
	s.init()
	b := s.newBatch(ctx)
	n, err := s.start(ctx, b, s.Concurrency)
	b.finish()
	return n, err
}

// start claims up to free due regions and starts a probe of each.
func (s *Scheduler) start(ctx context.Context, b *batch, free int) (int, error) {
	if free <= 0 {
		return 0, nil
	}
	now := s.Prober.now()
	claim := fmt.Sprintf("%s#%d", s.Holder, s.seq.Add(1))
	ttl := 2*s.Prober.Options.Timeout + 10*time.Second
	claims, err := s.Prober.Store.ClaimDueRegions(ctx, claim, now, now.Add(ttl), free)
	for _, c := range claims {
		s.inflight.Add(1)
		b.probes.Add(1)
		go func() {
			defer func() {
				s.inflight.Add(-1)
				b.probes.Done()
				select {
				case s.freed <- struct{}{}:
				default:
				}
			}()
			// The probe runs to its end whatever happens to ctx: a result cut short by a
			// shutdown would be a false "timeout".
			b.results <- s.probe(context.WithoutCancel(ctx), c, claim)
		}()
	}
	return len(claims), err
}

// probe checks one claimed region; the result is stored under the claim.
func (s *Scheduler) probe(ctx context.Context, c store.HealthClaim, claim string) store.ClaimedResult {
	res := s.Prober.probe(ctx, c.Region, c.KeyUnreadable, c.DetailsAt, s.keptConns())
	h := res.Health
	failures := c.ConsecutiveFailures + 1
	switch healthy := h.State == "healthy"; {
	case healthy && c.ConsecutiveFailures > 0:
		s.Log.Info("region healthy again", "region_id", h.RegionID, "failures", c.ConsecutiveFailures)
	case !healthy && c.ConsecutiveFailures == 0:
		s.Log.Warn("region unhealthy", "region_id", h.RegionID, "reason", h.Reason, "detail", h.Detail)
	}
	if h.State == "healthy" {
		failures = 0
	}
	return store.ClaimedResult{ProbeResult: res, Claim: claim, ConsecutiveFailures: failures,
		NextProbeAt: s.Prober.now().Add(Delay(s.Prober.Interval, failures))}
}

// keptConns is where probes keep their connections for the next probe of their region: only
// when that comes before a kept connection is closed (probe.KeepIdle).
func (s *Scheduler) keptConns() *probe.Conns {
	if s.interval() < probe.KeepIdle {
		return &s.conns
	}
	return nil
}

// batch is the probes one Run or Pass starts, and the writer that stores their results: each
// write takes every result waiting, in one transaction.
type batch struct {
	s       *Scheduler
	ctx     context.Context
	probes  sync.WaitGroup
	results chan store.ClaimedResult
	written chan struct{}
}

func (s *Scheduler) newBatch(ctx context.Context) *batch {
	b := &batch{s: s, ctx: context.WithoutCancel(ctx), results: make(chan store.ClaimedResult, s.Concurrency), written: make(chan struct{})}
	go b.write()
	return b
}

func (b *batch) write() {
	defer close(b.written)
	for r := range b.results {
		rs := []store.ClaimedResult{r}
	more:
		for len(rs) < 256 {
			select {
			case r, ok := <-b.results:
				if !ok {
					break more
				}
				rs = append(rs, r)
			default:
				break more
			}
		}
		if stored, err := b.s.Prober.Store.RecordClaimedHealth(b.ctx, rs); err != nil {
			b.s.Log.Warn("storing regions' health failed; they are probed again when their claims expire", "regions", len(rs), "error", err)
		} else if stored < len(rs) {
			b.s.Log.Debug("probe results not stored: their claims were taken over, or a probe on demand stored a fresher one", "results", len(rs)-stored)
		}
	}
}

// finish waits for the probes in flight and for their results to be stored.
func (b *batch) finish() {
	b.probes.Wait()
	close(b.results)
	<-b.written
}
