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
//
// At an interval shorter than StoreEvery, a replica holds the regions it claims for HoldFor,
// probing each every interval without claiming it again, and stores a result that says what the
// last one stored said only once StoreEvery has passed: claiming and storing were most of the
// prober's cost, every second for every region. A changed state, reason or detail, and new
// details, are stored at once; checked_at and latency_ms are then at most StoreEvery old.
type Scheduler struct {
	Prober *Prober
	// Holder names this replica in its claims; every replica needs its own.
	Holder      string
	Concurrency int
	Log         *slog.Logger
	// StoreEvery and HoldFor (0: the defaults, 5s and 30s) are for tests.
	StoreEvery, HoldFor time.Duration

	// conns keeps each region's connection between its probes (see probe.Conns).
	conns probe.Conns
	seq   atomic.Uint64
	// slots holds a value for each probe in flight.
	slots chan struct{}
	freed chan struct{}
	once  sync.Once
}

// Defaults of Scheduler.StoreEvery and Scheduler.HoldFor. HoldFor is DetailsEvery: a held region
// is read anew (url, TLS material) at least as often as its details.
const (
	DefaultStoreEvery = 5 * time.Second
	DefaultHoldFor    = DetailsEvery
)

func (s *Scheduler) init() {
	s.once.Do(func() {
		if s.Concurrency < 1 {
			s.Concurrency = 1
		}
		if s.Log == nil {
			s.Log = slog.Default()
		}
		s.freed = make(chan struct{}, s.Concurrency)
		s.slots = make(chan struct{}, s.Concurrency)
		if s.StoreEvery <= 0 {
			s.StoreEvery = DefaultStoreEvery
		}
		if s.HoldFor <= 0 {
			s.HoldFor = DefaultHoldFor
		}
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
		free := s.Concurrency - len(s.slots)
		started, err := s.start(ctx, b, free, s.interval() < s.StoreEvery)
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
		for s.Concurrency-len(s.slots) < max(1, s.Concurrency/2) {
			select {
			case <-ctx.Done():
				return
			case <-s.freed:
			}
		}
	}
}

// Pass claims up to Concurrency due regions, probes each once, stores the results and returns how
// many it probed. Run does the same continuously; tests call Pass to take one step at a time.
func (s *Scheduler) Pass(ctx context.Context) (int, error) {
	s.init()
	b := s.newBatch(ctx)
	n, err := s.start(ctx, b, s.Concurrency, false)
	b.finish()
	return n, err
}

// start claims up to free due regions and starts probing each: once, or while it holds them.
func (s *Scheduler) start(ctx context.Context, b *batch, free int, hold bool) (int, error) {
	if free <= 0 {
		return 0, nil
	}
	now := s.Prober.now()
	claim := fmt.Sprintf("%s#%d", s.Holder, s.seq.Add(1))
	claims, err := s.Prober.Store.ClaimDueRegions(ctx, claim, now, now.Add(s.claimTTL()), free)
	for _, c := range claims {
		b.probes.Add(1)
		go func() {
			defer b.probes.Done()
			s.keep(ctx, b, c, claim, hold)
		}()
	}
	return len(claims), err
}

// claimTTL is how long a claim lasts beyond the probe it is for.
func (s *Scheduler) claimTTL() time.Duration { return 2*s.Prober.Options.Timeout + 10*time.Second }

// keep probes a claimed region once and stores the result, releasing the claim; or, when hold,
// again every interval until HoldFor has passed since the claim, ctx ends or the claim is lost.
// Each result stored while holding extends the claim beyond the next store.
func (s *Scheduler) keep(ctx context.Context, b *batch, c store.HealthClaim, claim string, hold bool) {
	claimed := s.Prober.now()
	subj := newSubject(c.Region, c.KeyUnreadable)
	// Set by the writer when a result of this hold is refused: the claim is gone.
	var lost atomic.Bool
	var stored store.ClaimedResult // the last result stored, at storedAt (zero: none yet)
	var storedAt time.Time
	for {
		// The probe runs to its end whatever happens to ctx: a result cut short by a shutdown
		// would be a false "timeout".
		r := s.probe(context.WithoutCancel(ctx), c, subj, claim)
		now := s.Prober.now()
		last := !hold || ctx.Err() != nil || r.NextProbeAt.Sub(claimed) >= s.HoldFor
		if !last {
			r.HoldUntil = now.Add(s.StoreEvery + s.claimTTL())
		}
		if last || storedAt.IsZero() || changed(stored, r) || now.Sub(storedAt) >= s.StoreEvery {
			b.results <- pending{r, &lost}
			stored, storedAt = r, now
		}
		if last {
			return
		}
		// The next probe of the held region.
		c.ConsecutiveFailures = r.ConsecutiveFailures
		if r.DetailsAt != nil {
			c.DetailsAt = r.DetailsAt
		}
		select {
		case <-ctx.Done():
			// Give the region back: the last result, stored or not, releases the claim.
			r.HoldUntil = time.Time{}
			b.results <- pending{r, &lost}
			return
		case <-time.After(wakeAt(r.NextProbeAt, s.interval()).Sub(now)):
		}
		if lost.Load() {
			return // a probe on demand stored a fresher result, or the region is gone
		}
	}
}

// wakeAt is when a held region due at next is probed: next rounded up to a 128th of the
// interval, so that the held regions' probes start in small groups (about 8 of 1,000 regions).
// Each on its own timer, a prober that has nothing else to do sleeps and is woken for every
// probe, which about doubled its CPU per probe (a process alone probing 1,000 regions every
// second: 190-220 µs a probe, against 139-152 on this grid). Larger groups cost less CPU still
// (75-92 µs in sixteenths of the interval) but moved the list's p99 more: a group's probes all
// wait for a processor at once, ahead of the API's requests. Steady list load, 1,000 regions
// every 1s, p99 against not probing, medians of two to four rounds side by side: in serve 1.55×
// in sixteenths, 1.27× in 64ths, 1.2× in 128ths or with no grid; apart at SCHED_IDLE 1.06× in
// sixteenths, 0.93× in 128ths.
func wakeAt(next time.Time, interval time.Duration) time.Time {
	grid := max(interval/128, time.Millisecond)
	if t := next.Truncate(grid); t.Before(next) {
		return t.Add(grid)
	}
	return next
}

// changed says whether r says something the stored result did not: it is then stored at once.
func changed(stored, r store.ClaimedResult) bool {
	a, h := stored.Health, r.Health
	return a.State != h.State || a.Reason != h.Reason || a.Detail != h.Detail || r.DetailsAt != nil
}

// probe checks one claimed region in one of the Concurrency slots; the result is stored under the
// claim.
func (s *Scheduler) probe(ctx context.Context, c store.HealthClaim, subj subject, claim string) store.ClaimedResult {
	s.slots <- struct{}{}
	defer func() {
		<-s.slots
		select {
		case s.freed <- struct{}{}:
		default:
		}
	}()
	res := s.Prober.probe(ctx, subj, c.DetailsAt, s.keptConns())
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
	results chan pending
	written chan struct{}
}

// pending is a result waiting to be stored; the writer sets lost when the store refuses it.
type pending struct {
	store.ClaimedResult
	lost *atomic.Bool
}

func (s *Scheduler) newBatch(ctx context.Context) *batch {
	b := &batch{s: s, ctx: context.WithoutCancel(ctx), results: make(chan pending, s.Concurrency), written: make(chan struct{})}
	go b.write()
	return b
}

func (b *batch) write() {
	defer close(b.written)
	for p := range b.results {
		ps := []pending{p}
	more:
		for len(ps) < 256 {
			select {
			case p, ok := <-b.results:
				if !ok {
					break more
				}
				ps = append(ps, p)
			default:
				break more
			}
		}
		rs := make([]store.ClaimedResult, len(ps))
		for i, p := range ps {
			rs[i] = p.ClaimedResult
		}
		stored, err := b.s.Prober.Store.RecordClaimedHealth(b.ctx, rs)
		if err != nil {
			// Held regions are given up too: they are claimed again once the store works.
			b.s.Log.Warn("storing regions' health failed; they are probed again when their claims expire", "regions", len(rs), "error", err)
		}
		refused := 0
		for i, p := range ps {
			if err != nil || !stored[i] {
				refused++
				p.lost.Store(true)
			}
		}
		if refused > 0 && err == nil {
			b.s.Log.Debug("probe results not stored: their claims were taken over, or a probe on demand stored a fresher one", "results", refused)
		}
	}
}

// finish waits for the probes in flight and for their results to be stored.
func (b *batch) finish() {
	b.probes.Wait()
	close(b.results)
	<-b.written
}
