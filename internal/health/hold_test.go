package health_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/regiond/regiond/internal/health"
	"github.com/regiond/regiond/internal/probe"
	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/testsupport/rbdapi"
)

// TestHeldRegions: at an interval shorter than StoreEvery, the replica that claimed a region holds
// it (another replica cannot claim it, although it is due), probes it every interval, stores a
// result that says the same as the stored one only once StoreEvery has passed (never, here) and a
// changed one at once, and gives the region back when it stops. The test waits for probes and for
// stored results, never for the clock.
func TestHeldRegions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		none, _ := probe.ParseDenyList("none")
		st := openStore(t, dsn)
		p := &health.Prober{Store: st, Options: probe.Options{Timeout: 30 * time.Second, Deny: none}, Interval: 20 * time.Millisecond}
		s := &health.Scheduler{Prober: p, Holder: "a", Concurrency: 2, StoreEvery: time.Hour, HoldFor: time.Hour}
		r := rbdapi.StartPlain(t)
		probed := r.Notify(1000)
		id := createRegion(t, st, "held", r.URL)
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			s.Run(ctx)
		}()
		ctxb := context.Background()
		// stored waits until the stored health is in state.
		stored := func(state string) region.Health {
			t.Helper()
			for {
				h, err := st.RegionHealth(ctxb, "e1", id)
				if err != nil {
					t.Fatal(err)
				}
				if h.State == state {
					return h
				}
				time.Sleep(time.Millisecond)
			}
		}
		<-probed
		first := stored("healthy")
		if c, err := st.ClaimDueRegions(ctxb, "b#1", time.Now().Add(time.Minute), time.Now().Add(2*time.Minute), 10); err != nil || len(c) != 0 {
			t.Fatalf("another replica claimed a held region: %d, %v", len(c), err)
		}
		for range 4 {
			<-probed
		}
		r.Status.Store(http.StatusInternalServerError)
		failed := stored("unhealthy")
		if !failed.CheckedAt.After(*first.CheckedAt) || failed.Reason != "http_status" || failed.ConsecutiveFailures != 1 {
			t.Fatalf("the changed result: %+v", failed)
		}
		if !failed.LastHealthyAt.Equal(*first.CheckedAt) {
			t.Fatalf("results that said the same as the stored one were stored: last healthy at %v, want the first probe's %v",
				failed.LastHealthyAt, first.CheckedAt)
		}
		r.Status.Store(http.StatusOK)
		stored("healthy")
		cancel()
		for done := false; !done; {
			select {
			case <-probed:
			case <-stopped:
				done = true
			}
		}
		if c, err := st.ClaimDueRegions(ctxb, "b#2", time.Now().Add(time.Minute), time.Now().Add(2*time.Minute), 10); err != nil || len(c) != 1 {
			t.Fatalf("the stopped replica did not give the region back: %d, %v", len(c), err)
		}
		if n := r.Probes.Load(); n < 6 {
			t.Fatalf("%d probes", n)
		}
	})
}
