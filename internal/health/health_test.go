package health_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/regiond/regiond/internal/health"
	"github.com/regiond/regiond/internal/probe"
	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/testsupport/rbdapi"
	"github.com/regiond/regiond/internal/testsupport/testpki"
)

const interval = time.Minute

// clock is a test's time: it moves only when the test moves it.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func openStore(t *testing.T, dsn string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), dsn, store.Options{MaxOpenConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// scheduler is one replica over its own store handle, on the test's clock, allowed to probe
// loopback, with a timeout no loaded machine reaches.
func scheduler(t *testing.T, dsn, holder string, c *clock) *health.Scheduler {
	t.Helper()
	none, _ := probe.ParseDenyList("none")
	p := &health.Prober{Store: openStore(t, dsn), Options: probe.Options{Timeout: 30 * time.Second, Deny: none},
		Interval: interval, CertWarnDays: 30, Now: c.Now}
	return &health.Scheduler{Prober: p, Holder: holder, Concurrency: 3}
}

func createRegion(t *testing.T, s *store.Store, name, url string) string {
	t.Helper()
	r := region.Region{EnterpriseID: "e1", RegionID: uuid.NewString(), RegionName: name, RegionAlias: name, URL: url,
		Status: region.StatusEnabled, Scope: region.ScopePrivate}
	if _, err := s.CreateRegion(context.Background(), r, store.AuditEvent{EnterpriseID: "e1", TokenID: "t", Operation: store.OpRegionCreate}); err != nil {
		t.Fatal(err)
	}
	return r.RegionID
}

// drain runs passes of every scheduler at once until none of them finds anything due.
func drain(t *testing.T, scheds ...*health.Scheduler) {
	t.Helper()
	for {
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for _, s := range scheds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Prober.Store.AdoptRegions(context.Background(), s.Prober.Now()); err != nil {
					t.Error(err)
				}
				n, err := s.Pass(context.Background())
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				total += n
				mu.Unlock()
			}()
		}
		wg.Wait()
		if total == 0 || t.Failed() {
			return
		}
	}
}

// TestDelay: the interval when healthy, doubling per failure up to 5 minutes, plus at most 10%.
func TestDelay(t *testing.T) {
	for _, c := range []struct {
		interval time.Duration
		failures int
		want     time.Duration
	}{{30 * time.Second, 0, 30 * time.Second}, {30 * time.Second, 1, time.Minute}, {30 * time.Second, 3, 4 * time.Minute},
		{30 * time.Second, 4, health.MaxBackoff}, {30 * time.Second, 50, health.MaxBackoff}, {time.Second, 2, 4 * time.Second},
		{10 * time.Minute, 3, 10 * time.Minute}} {
		for range 100 {
			if d := health.Delay(c.interval, c.failures); d < c.want || d > c.want+c.want/10 {
				t.Fatalf("Delay(%v, %d) = %v, want %v plus up to 10%%", c.interval, c.failures, d, c.want)
			}
		}
	}
}

// TestSchedulerStoresAndBacksOff: a pass probes every due region and stores the result; a
// healthy region is due again after the interval, a failing one backs off (2, then 4 intervals).
func TestSchedulerStoresAndBacksOff(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		c := &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
		s := scheduler(t, dsn, "a", c)
		st := s.Prober.Store
		good := rbdapi.StartPlain(t)
		goodID := createRegion(t, st, "good", good.URL)
		badID := createRegion(t, st, "bad", rbdapi.ClosedURL(t, "http"))
		drain(t, s)
		ctx := context.Background()
		h, err := st.RegionHealth(ctx, "e1", goodID)
		if err != nil || h.State != "healthy" || h.Version != "v5.17.3-release" || h.Cluster == nil || *h.Cluster.CPUTotalCores != 24 || good.Probes.Load() != 1 {
			t.Fatalf("healthy region: %+v, %v (probes %d)", h, err, good.Probes.Load())
		}
		failures := func() int {
			h, err := st.RegionHealth(ctx, "e1", badID)
			if err != nil || h.State != "unhealthy" || h.Reason != "refused" {
				t.Fatalf("failing region: %+v, %v", h, err)
			}
			return h.ConsecutiveFailures
		}
		if f := failures(); f != 1 {
			t.Fatalf("failures %d, want 1", f)
		}
		step := interval + interval/10 + time.Millisecond // past any jitter
		c.Add(step)
		drain(t, s)
		if good.Probes.Load() != 2 || failures() != 1 {
			t.Fatalf("after one interval: %d probes of the healthy region (want 2), failing one at %d failures (want 1: backing off)", good.Probes.Load(), failures())
		}
		c.Add(step)
		drain(t, s)
		if failures() != 2 {
			t.Fatalf("after two intervals: %d failures, want 2", failures())
		}
		for i := 0; i < 3; i++ { // backing off 4 intervals now
			c.Add(step)
			drain(t, s)
		}
		if f := failures(); f != 2 {
			t.Fatalf("probed during its backoff: %d failures", f)
		}
		c.Add(step)
		drain(t, s)
		if f := failures(); f != 3 {
			t.Fatalf("after its backoff: %d failures, want 3", f)
		}
	})
}

// TestDetailsAreReadEvery30s: at an interval shorter than health.DetailsEvery, a scheduled probe
// asks for the version and cluster resources only when the last read is that old (every probe
// asks /v2/health), and the stored ones stay meanwhile; a probe on demand always asks.
func TestDetailsAreReadEvery30s(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		c := &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
		s := scheduler(t, dsn, "a", c)
		s.Prober.Interval = 10 * time.Second
		st := s.Prober.Store
		r := rbdapi.StartPlain(t)
		id := createRegion(t, st, "details", r.URL)
		ctx := context.Background()
		for i := 1; i <= 7; i++ { // probes at 0, 11, 22, 33, 44, 55, 66 seconds
			drain(t, s)
			h, err := st.RegionHealth(ctx, "e1", id)
			if err != nil || h.State != "healthy" || h.Version != "v5.17.3-release" || h.Cluster == nil {
				t.Fatalf("probe %d: %+v, %v", i, h, err)
			}
			c.Add(11 * time.Second) // past the interval and its jitter
		}
		// Read at 0, then at 33 (the first probe 30s after), then at 66, each on a new
		// connection; the probes between ask on the connection kept from the one before.
		if p, d, n := r.Probes.Load(), r.Details.Load(), r.Conns.Load(); p != 7 || d != 3 || n != 3 {
			t.Fatalf("7 intervals: %d health probes (want 7), %d version reads (want 3), %d connections (want 3)", p, d, n)
		}
		if _, err := s.Prober.ProbeNow(ctx, "e1", id); err != nil || r.Details.Load() != 4 || r.Conns.Load() != 4 {
			t.Fatalf("a probe on demand did not read the details on a new connection: %v, %d reads, %d connections", err, r.Details.Load(), r.Conns.Load())
		}
	})
}

// TestConnectionsKeptOnlyForShortIntervals: at an interval longer than probe.KeepIdle (the
// default is 30s) a scheduled probe leaves no connection open behind it; at a shorter one the
// next probe asks on the connection the last one kept.
func TestConnectionsKeptOnlyForShortIntervals(t *testing.T) {
	c := &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := scheduler(t, dbtest.SQLite(t), "a", c)
	r := rbdapi.StartPlain(t)
	createRegion(t, s.Prober.Store, "long", r.URL)
	drain(t, s)
	// Closing is the server noticing the client's close: wait for it, far longer than a loaded
	// machine needs and shorter than a kept connection would stay open.
	for deadline := time.Now().Add(probe.KeepIdle - 5*time.Second); r.Open.Load() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("at a %s interval a probe left %d connections open", interval, r.Open.Load())
		}
	}

	short := scheduler(t, dbtest.SQLite(t), "b", c)
	short.Prober.Interval = time.Second
	createRegion(t, short.Prober.Store, "short", r.URL)
	for range 3 {
		drain(t, short)
		c.Add(2 * time.Second)
	}
	if n, open := r.Conns.Load(), r.Open.Load(); n != 2 || open != 1 {
		t.Fatalf("at a 1s interval, 3 probes: %d connections in all (want 2: one of the probe before, one kept), %d open (want 1)", n, open)
	}
}

// TestReplicasProbeEachRegionOncePerInterval: two replicas (two schedulers over two store
// handles on one database) probing at once probe each region exactly once per interval between
// them, interval after interval (the fake regions count their probes).
func TestReplicasProbeEachRegionOncePerInterval(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		c := &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
		a, b := scheduler(t, dsn, "a", c), scheduler(t, dsn, "b", c)
		var regions []*rbdapi.Region
		for i := 0; i < 12; i++ {
			r := rbdapi.StartPlain(t)
			regions = append(regions, r)
			createRegion(t, a.Prober.Store, fmt.Sprintf("replicas-%02d", i), r.URL)
		}
		for round := int64(1); round <= 3; round++ {
			drain(t, a, b)
			for i, r := range regions {
				if n := r.Probes.Load(); n != round {
					t.Fatalf("interval %d: region %d probed %d times", round, i, n)
				}
			}
			c.Add(interval + interval/10 + time.Millisecond)
		}
	})
}

// TestReplicasRun: the same with the schedulers' own loops on the real clock: once every region
// has been probed (the regions say so), each was probed once, and both loops stop when told.
func TestReplicasRun(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		none, _ := probe.ParseDenyList("none")
		ctx, cancel := context.WithCancel(context.Background())
		var done sync.WaitGroup
		var regions []*rbdapi.Region
		var probed []<-chan struct{}
		st := openStore(t, dsn)
		for i := 0; i < 12; i++ {
			r := rbdapi.StartPlain(t)
			regions, probed = append(regions, r), append(probed, r.Notify(4))
			createRegion(t, st, fmt.Sprintf("run-%02d", i), r.URL)
		}
		for _, holder := range []string{"a", "b"} {
			p := &health.Prober{Store: openStore(t, dsn), Options: probe.Options{Timeout: 30 * time.Second, Deny: none}, Interval: time.Hour}
			s := &health.Scheduler{Prober: p, Holder: holder, Concurrency: 2}
			done.Add(1)
			go func() {
				defer done.Done()
				s.Run(ctx)
			}()
		}
		for _, ch := range probed {
			<-ch
		}
		cancel()
		done.Wait()
		for i, r := range regions {
			if n := r.Probes.Load(); n != 1 {
				t.Fatalf("region %d probed %d times within one interval", i, n)
			}
		}
	})
}

// TestTakeover: a region claimed by a replica that died before storing a result is probed by
// another once the claim expires, and not before.
func TestTakeover(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		c := &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
		b := scheduler(t, dsn, "b", c)
		st := b.Prober.Store
		r := rbdapi.StartPlain(t)
		id := createRegion(t, st, "takeover", r.URL)
		ctx := context.Background()
		if err := st.AdoptRegions(ctx, c.Now()); err != nil {
			t.Fatal(err)
		}
		ttl := 2*b.Prober.Options.Timeout + 10*time.Second // as the scheduler claims
		if claims, err := st.ClaimDueRegions(ctx, "dead#1", c.Now(), c.Now().Add(ttl), 10); err != nil || len(claims) != 1 {
			t.Fatalf("the dying replica's claim: %v, %v", claims, err)
		}
		if n, err := b.Pass(ctx); err != nil || n != 0 {
			t.Fatalf("a live claim was taken over: %d, %v", n, err)
		}
		c.Add(ttl + time.Millisecond)
		if n, err := b.Pass(ctx); err != nil || n != 1 || r.Probes.Load() != 1 {
			t.Fatalf("the expired claim was not taken over: %d, %v (probes %d)", n, err, r.Probes.Load())
		}
		if h, _ := st.RegionHealth(ctx, "e1", id); h.State != "healthy" {
			t.Fatalf("after the takeover: %+v", h)
		}
	})
}

// TestRunWaitsForProbesInFlight: stopping the scheduler lets the probe in flight finish and
// stores its result (not a false timeout).
func TestRunWaitsForProbesInFlight(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		entered, release := make(chan struct{}), make(chan struct{})
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v2/health" {
				close(entered)
				<-release
			}
			w.WriteHeader(http.StatusOK)
		}))
		defer slow.Close()
		c := &clock{now: time.Now()}
		s := scheduler(t, dsn, "a", c)
		id := createRegion(t, s.Prober.Store, "slow", slow.URL)
		c.Add(time.Minute) // the region is due from its creation on, by the store's clock
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			s.Run(ctx)
		}()
		<-entered
		cancel()
		select {
		case <-stopped:
			t.Fatal("Run returned with a probe in flight")
		default:
		}
		close(release)
		<-stopped
		if h, _ := s.Prober.Store.RegionHealth(context.Background(), "e1", id); h.State != "healthy" {
			t.Fatalf("the probe in flight at shutdown stored %+v", h)
		}
	})
}

// TestScheduledProbesStoreCertificateExpiry: a scheduled probe stores when the first certificate
// of ssl_ca_cert expires (the earliest of several, not the first), read from the stored material
// whatever the probe found (here: a closed port); a region without cert_file has no such date.
func TestScheduledProbesStoreCertificateExpiry(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		s := scheduler(t, dsn, "a", &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
		st := s.Prober.Store
		ca := testpki.NewCA(t, "region CA")
		day := time.Now().UTC().Truncate(time.Second)
		late, early := ca.Issue(t, "late", day.AddDate(0, 0, 90)), ca.Issue(t, "early", day.AddDate(0, 0, 20))
		cas := late.CertPEM + early.CertPEM
		r := region.Region{EnterpriseID: "e1", RegionID: uuid.NewString(), RegionName: "tls", RegionAlias: "tls",
			URL: rbdapi.ClosedURL(t, "https"), Status: region.StatusEnabled, Scope: region.ScopePrivate, SSLCACert: &cas}
		if _, err := st.CreateRegion(context.Background(), r, store.AuditEvent{EnterpriseID: "e1", TokenID: "t", Operation: store.OpRegionCreate}); err != nil {
			t.Fatal(err)
		}
		drain(t, s)
		gauges, err := st.HealthGauges(context.Background())
		if err != nil || len(gauges) != 1 {
			t.Fatalf("%d gauges, %v", len(gauges), err)
		}
		g := gauges[0]
		if g.State != "unhealthy" || g.SSLCACertNotAfter == nil || !g.SSLCACertNotAfter.Equal(day.AddDate(0, 0, 20)) || g.CertFileNotAfter != nil {
			t.Fatalf("stored %+v: want unhealthy, ssl_ca_cert until %s, no cert_file date", g, day.AddDate(0, 0, 20))
		}
	})
}
