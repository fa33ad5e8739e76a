package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
)

func ptr[T any](v T) *T { return &v }

// count is how many results RecordClaimedHealth stored.
func count(stored []bool) int {
	n := 0
	for _, ok := range stored {
		if ok {
			n++
		}
	}
	return n
}

// TestRegionHealth: a region never probed is "unknown" with nothing else set; another
// enterprise's region and an unknown one are ErrNotFound; a result is stored only under its live
// claim; failures count up and reset; a healthy probe without /v2/cluster keeps the last cluster
// resources; deleting a region deletes its row.
func TestRegionHealth(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := open(t, dsn, nil)
		r := mustCreate(t, s, newRegion("e1", "health-a"))
		h, err := s.RegionHealth(ctx, "e1", r.RegionID)
		if err != nil || fmt.Sprint(h) != fmt.Sprint(region.Health{RegionID: r.RegionID, State: "unknown"}) {
			t.Fatalf("never probed: %+v, %v", h, err)
		}
		for _, c := range [][2]string{{"e2", r.RegionID}, {"e1", "00000000-0000-4000-8000-000000000000"}} {
			if _, err := s.RegionHealth(ctx, c[0], c[1]); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("RegionHealth(%s, %s): %v, want ErrNotFound", c[0], c[1], err)
			}
		}

		t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := s.AdoptRegions(ctx, t0); err != nil {
			t.Fatal(err)
		}
		claims, err := s.ClaimDueRegions(ctx, "a#1", t0, t0.Add(time.Minute), 10)
		if err != nil || len(claims) != 1 || claims[0].Region.URL != r.URL || claims[0].ConsecutiveFailures != 0 {
			t.Fatalf("claim: %+v, %v", claims, err)
		}
		if again, err := s.ClaimDueRegions(ctx, "b#1", t0, t0.Add(time.Minute), 10); err != nil || len(again) != 0 {
			t.Fatalf("a live claim was claimed again: %+v, %v", again, err)
		}
		cluster := &region.ClusterResources{CPUTotalCores: ptr(24.0), MemoryTotalBytes: ptr(float64(48 << 30))}
		checked := t0.Add(time.Second)
		next := func(int) time.Time { return t0.Add(30 * time.Second) }
		claimed := func(res store.ProbeResult, claim string, failures int, at time.Time) bool {
			t.Helper()
			n, err := s.RecordClaimedHealth(ctx, []store.ClaimedResult{{ProbeResult: res, Claim: claim, ConsecutiveFailures: failures, NextProbeAt: at}})
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprint(n) == "[true]"
		}
		healthy := store.ProbeResult{Health: region.Health{RegionID: r.RegionID, State: "healthy", CheckedAt: &checked,
			LatencyMS: ptr[int64](7), Version: "v5.17.3", Cluster: cluster}}
		if claimed(healthy, "b#1", 0, next(0)) {
			t.Fatal("a result was stored under a claim that does not hold the row")
		}
		if !claimed(healthy, "a#1", 0, next(0)) {
			t.Fatal("a result under its claim was refused")
		}
		h, err = s.RegionHealth(ctx, "e1", r.RegionID)
		if err != nil || h.State != "healthy" || !h.CheckedAt.Equal(checked) || !h.LastHealthyAt.Equal(checked) || *h.LatencyMS != 7 ||
			h.Version != "v5.17.3" || h.Cluster == nil || *h.Cluster.CPUTotalCores != 24 || h.Cluster.DiskTotalBytes != nil {
			t.Fatalf("after a healthy probe: %+v, %v", h, err)
		}
		// Not due before next, due after.
		if c, _ := s.ClaimDueRegions(ctx, "a#2", t0.Add(29*time.Second), t0.Add(time.Hour), 10); len(c) != 0 {
			t.Fatalf("claimed before it was due: %+v", c)
		}
		for i := 1; i <= 3; i++ {
			at := t0.Add(time.Duration(i) * time.Minute)
			c, err := s.ClaimDueRegions(ctx, fmt.Sprint("a#f", i), at, at.Add(time.Minute), 10)
			if err != nil || len(c) != 1 {
				t.Fatalf("failure %d: claim %+v, %v", i, c, err)
			}
			failed := store.ProbeResult{Health: region.Health{RegionID: r.RegionID, State: "unhealthy", Reason: "refused",
				Detail: "connection refused", CheckedAt: &at, LatencyMS: ptr[int64](1)}}
			if c[0].ConsecutiveFailures != i-1 || !claimed(failed, fmt.Sprint("a#f", i), i, at.Add(time.Second)) {
				t.Fatalf("failure %d: the claim says %d failures before", i, c[0].ConsecutiveFailures)
			}
		}
		h, _ = s.RegionHealth(ctx, "e1", r.RegionID)
		if h.ConsecutiveFailures != 3 || h.Reason != "refused" || !h.LastHealthyAt.Equal(checked) || h.Version != "v5.17.3" || h.Cluster == nil {
			t.Fatalf("after 3 failures: %+v", h)
		}
		// A probe on demand needs no claim; healthy without a cluster answer keeps the last one.
		later := t0.Add(time.Hour)
		var failuresSeen int
		if ok, err := s.RecordHealth(ctx, store.ProbeResult{Health: region.Health{RegionID: r.RegionID, State: "healthy", CheckedAt: &later,
			LatencyMS: ptr[int64](3)}}, func(f int) time.Time { failuresSeen = f; return later }); err != nil || !ok || failuresSeen != 0 {
			t.Fatal(ok, err, failuresSeen)
		}
		h, _ = s.RegionHealth(ctx, "e1", r.RegionID)
		if h.ConsecutiveFailures != 0 || h.Reason != "" || !h.LastHealthyAt.Equal(later) || h.Cluster == nil || *h.Cluster.CPUTotalCores != 24 {
			t.Fatalf("a healthy probe without /v2/cluster: %+v", h)
		}

		if _, err := s.DeleteRegion(ctx, "e1", r.RegionID, store.Precondition{}, ev(store.OpRegionDelete)); err != nil {
			t.Fatal(err)
		}
		if g, err := s.HealthGauges(ctx); err != nil || len(g) != 0 {
			t.Fatalf("a deleted region's health is still read: %+v, %v", g, err)
		}
		if ok, err := s.RecordHealth(ctx, healthy, next); err != nil || ok {
			t.Fatalf("a probe on demand of a deleted region stored a row: %v, %v", ok, err)
		}
	})
}

// TestHealthDetailsAt: a claim carries when the version and cluster resources were last read:
// never at first; the time of the healthy result that read them after; unchanged by an unhealthy
// result or a healthy one that did not read them.
func TestHealthDetailsAt(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := open(t, dsn, nil)
		r := mustCreate(t, s, newRegion("e1", "details-at"))
		t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		var read *time.Time
		for i, step := range []struct {
			state       string
			detailsRead bool
			wantRead    bool // the claim after this result says the details were read at this result's time
		}{{"healthy", false, false}, {"healthy", true, true}, {"unhealthy", true, false}, {"healthy", false, false}, {"healthy", true, true}} {
			at := t0.Add(time.Duration(i) * time.Minute)
			claim := fmt.Sprint("a#", i)
			c, err := s.ClaimDueRegions(ctx, claim, at, at.Add(time.Minute), 10)
			if err != nil || len(c) != 1 {
				t.Fatalf("step %d: claim %+v, %v", i, c, err)
			}
			if (read == nil) != (c[0].DetailsAt == nil) || (read != nil && !c[0].DetailsAt.Equal(*read)) {
				t.Fatalf("step %d: the claim says details read at %v, want %v", i, c[0].DetailsAt, read)
			}
			res := store.ProbeResult{Health: region.Health{RegionID: r.RegionID, State: step.state, CheckedAt: &at, LatencyMS: ptr[int64](1)},
				DetailsAt: &at}
			if !step.detailsRead {
				res.DetailsAt = nil
			}
			if n, err := s.RecordClaimedHealth(ctx, []store.ClaimedResult{{ProbeResult: res, Claim: claim, NextProbeAt: at}}); err != nil || fmt.Sprint(n) != "[true]" {
				t.Fatalf("step %d: stored %v, %v", i, n, err)
			}
			if step.wantRead {
				read = &at
			}
		}
	})
}

// TestClaimsAcrossReplicas: two store handles (two replicas) claiming the same due regions at
// once each get a disjoint share, together all; a claim whose replica died (never recorded) is
// taken over once it expires, and its late result is then refused.
func TestClaimsAcrossReplicas(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		a, b := open(t, dsn, nil), open(t, dsn, nil)
		const n = 40
		for i := 0; i < n; i++ {
			mustCreate(t, a, newRegion("e1", fmt.Sprintf("claim-%02d", i)))
		}
		t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := a.AdoptRegions(ctx, t0); err != nil {
			t.Fatal(err)
		}
		if err := b.AdoptRegions(ctx, t0); err != nil { // twice changes nothing
			t.Fatal(err)
		}
		var mu sync.Mutex
		owner := map[string]string{}
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			s := a
			if w%2 == 1 {
				s = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for round := 0; ; round++ {
					claim := fmt.Sprintf("w%d#%d", w, round)
					c, err := s.ClaimDueRegions(ctx, claim, t0, t0.Add(time.Minute), 3)
					if err != nil {
						t.Error(err)
						return
					}
					if len(c) == 0 {
						return
					}
					mu.Lock()
					for _, x := range c {
						if prev, dup := owner[x.Region.RegionID]; dup {
							t.Errorf("region %s claimed by %s and %s", x.Region.RegionName, prev, claim)
						}
						owner[x.Region.RegionID] = claim
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(owner) != n {
			t.Fatalf("%d of %d regions claimed", len(owner), n)
		}
		// Every claim's holder "died": at t0+1m they are all taken over, and not before.
		if c, _ := b.ClaimDueRegions(ctx, "late#1", t0.Add(59*time.Second), t0.Add(2*time.Minute), n); len(c) != 0 {
			t.Fatalf("%d live claims were taken over", len(c))
		}
		taken, err := b.ClaimDueRegions(ctx, "late#2", t0.Add(61*time.Second), t0.Add(2*time.Minute), n)
		if err != nil || len(taken) != n {
			t.Fatalf("took over %d of %d expired claims: %v", len(taken), n, err)
		}
		x := taken[0].Region.RegionID
		at := t0.Add(62 * time.Second)
		res := store.ProbeResult{Health: region.Health{RegionID: x, State: "healthy", CheckedAt: &at}}
		record := func(s *store.Store, claim string) int {
			n, err := s.RecordClaimedHealth(ctx, []store.ClaimedResult{{ProbeResult: res, Claim: claim, NextProbeAt: at.Add(time.Hour)}})
			if err != nil {
				t.Fatal(err)
			}
			return count(n)
		}
		if record(a, owner[x]) != 0 {
			t.Fatal("the dead replica's late result was stored")
		}
		if record(b, "late#2") != 1 {
			t.Fatal("the taker's result was refused")
		}
	})
}

// TestResultsInBatches: results stored together (more than one statement's worth, healthy and
// unhealthy, with and without cluster figures) each land in their own region's row, those whose
// claim no longer holds are refused, and the next claim takes the longest due first.
func TestResultsInBatches(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := open(t, dsn, nil)
		const n = 150
		regions := make([]region.Region, n)
		for i := range regions {
			regions[i] = mustCreate(t, s, newRegion("e1", fmt.Sprintf("batch-%03d", i)))
		}
		t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		claims, err := s.ClaimDueRegions(ctx, "a#1", t0, t0.Add(time.Minute), n)
		if err != nil || len(claims) != n {
			t.Fatalf("claimed %d of %d: %v", len(claims), n, err)
		}
		var results []store.ClaimedResult
		for i, r := range regions {
			at := t0.Add(time.Duration(i) * time.Millisecond)
			res := store.ClaimedResult{Claim: "a#1", NextProbeAt: t0.Add(time.Duration(n-i) * time.Second),
				ProbeResult: store.ProbeResult{Health: region.Health{RegionID: r.RegionID, State: "healthy", CheckedAt: &at,
					LatencyMS: ptr(int64(i)), Version: fmt.Sprint("v5.", i), Cluster: &region.ClusterResources{CPUTotalCores: ptr(float64(i))}},
					CertFileNotAfter: &at, DetailsAt: &at}}
			if i%2 == 1 {
				res.ConsecutiveFailures = i
				res.Health = region.Health{RegionID: r.RegionID, State: "unhealthy", Reason: "timeout", Detail: fmt.Sprint("no answer ", i), CheckedAt: &at}
			}
			if i%50 == 7 {
				res.Claim = "b#1" // another replica's stale claim
			}
			results = append(results, res)
		}
		stored, err := s.RecordClaimedHealth(ctx, results)
		if err != nil || count(stored) != n-3 {
			t.Fatalf("stored %d of %d (3 under a stale claim): %v", count(stored), n, err)
		}
		for i, r := range regions {
			h, err := s.RegionHealth(ctx, "e1", r.RegionID)
			if err != nil {
				t.Fatal(err)
			}
			at := t0.Add(time.Duration(i) * time.Millisecond)
			switch {
			case i%50 == 7:
				if h.State != "unknown" || h.CheckedAt != nil {
					t.Fatalf("region %d: a result under a stale claim was stored: %+v", i, h)
				}
			case i%2 == 0:
				if h.State != "healthy" || !h.CheckedAt.Equal(at) || !h.LastHealthyAt.Equal(at) || *h.LatencyMS != int64(i) ||
					h.Version != fmt.Sprint("v5.", i) || h.Cluster == nil || *h.Cluster.CPUTotalCores != float64(i) || h.Cluster.CPUUsedCores != nil {
					t.Fatalf("region %d: %+v", i, h)
				}
			default:
				if h.State != "unhealthy" || h.Reason != "timeout" || h.Detail != fmt.Sprint("no answer ", i) || h.ConsecutiveFailures != i ||
					h.LastHealthyAt != nil || h.LatencyMS != nil || h.Version != "" || h.Cluster != nil {
					t.Fatalf("region %d: %+v", i, h)
				}
			}
		}
		// The longest due first: the three whose results were refused (due since t0, their claim
		// expired at t0+1m), then the last region (due at t0+1s).
		next, err := s.ClaimDueRegions(ctx, "a#2", t0.Add(n*time.Second), t0.Add(2*n*time.Second), 4)
		if err != nil || len(next) != 4 {
			t.Fatalf("claimed %d: %v", len(next), err)
		}
		got := map[string]bool{}
		for _, c := range next {
			got[c.Region.RegionName] = true
		}
		for _, i := range []int{7, 57, 107, 149} {
			if !got[regions[i].RegionName] {
				t.Fatalf("claimed %v, want the four longest due (batch-007, -057, -107 and -149)", got)
			}
		}
	})
}
