package retention_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/regiond/regiond/internal/retention"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
)

const day = 24 * time.Hour

func open(t *testing.T, dsn string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// addEvents writes n audit events of enterprise ent at time at, with SQL (the store only writes
// events of writes happening now).
func addEvents(t *testing.T, s *store.Store, ent string, at time.Time, n int) {
	t.Helper()
	w, _ := s.DBs()
	for n > 0 {
		rows := min(n, 200)
		args := make([]any, 0, 2*rows)
		for i := 0; i < rows; i++ {
			args = append(args, at.UTC(), ent)
		}
		_, err := w.Exec("INSERT INTO regiond_audit (time, enterprise_id, token_id, operation, target_id, changed_fields, request_id) VALUES "+
			strings.TrimSuffix(strings.Repeat("(?, ?, 'tok_x', 'region.update', 'r', 'desc', ''),", rows), ","), args...)
		if err != nil {
			t.Fatal(err)
		}
		n -= rows
	}
}

func count(t *testing.T, s *store.Store, ent string) int {
	t.Helper()
	events, err := s.ListAudit(context.Background(), ent, nil, 100000)
	if err != nil {
		t.Fatal(err)
	}
	return len(events)
}

// TestPruneDeletesOnlyOldEvents: one pass deletes every event older than the retention, in
// batches, and keeps the newer ones.
func TestPruneDeletesOnlyOldEvents(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		s := open(t, dsn)
		now := time.Now()
		addEvents(t, s, "old", now.Add(-401*day), 1234) // more than two batches
		addEvents(t, s, "new", now.Add(-399*day), 300)
		addEvents(t, s, "new", now, 5)
		p := &retention.AuditPruner{Store: s, Retention: 400 * day, Holder: "a", Batch: 500}
		deleted, held, err := p.Prune(context.Background())
		if err != nil || !held || deleted != 1234 {
			t.Fatalf("prune: deleted %d, held %v, %v", deleted, held, err)
		}
		if old, recent := count(t, s, "old"), count(t, s, "new"); old != 0 || recent != 305 {
			t.Fatalf("after pruning: %d old events, %d newer ones (want 0 and 305)", old, recent)
		}
		// The lease was released: another replica may prune at once.
		if ok, err := s.TryLease(context.Background(), retention.LeaseName, "b", time.Minute); err != nil || !ok {
			t.Fatalf("the lease after a pass: %v %v", ok, err)
		}
	})
}

// TestPrunersContend: of two replicas, only the lease holder prunes; when the holder dies (its
// lease expires), the other takes over.
func TestPrunersContend(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		a, b := open(t, dsn), open(t, dsn)
		addEvents(t, a, "old", time.Now().Add(-500*day), 50)
		pa := &retention.AuditPruner{Store: a, Retention: 400 * day, Holder: "replica-a"}
		pb := &retention.AuditPruner{Store: b, Retention: 400 * day, Holder: "replica-b"}
		// a is in the middle of a pass: it holds the lease.
		if ok, err := a.TryLease(ctx, retention.LeaseName, pa.Holder, time.Hour); err != nil || !ok {
			t.Fatalf("a takes the lease: %v %v", ok, err)
		}
		if deleted, held, err := pb.Prune(ctx); err != nil || held || deleted != 0 || count(t, b, "old") != 50 {
			t.Fatalf("b pruned while a held the lease: deleted %d, held %v, %v", deleted, held, err)
		}
		if deleted, held, err := pa.Prune(ctx); err != nil || !held || deleted != 50 {
			t.Fatalf("the holder's pass: deleted %d, held %v, %v", deleted, held, err)
		}

		// a dies holding the lease: b takes over once it expires.
		addEvents(t, a, "old", time.Now().Add(-500*day), 50)
		taken := time.Now()
		if ok, err := a.TryLease(ctx, retention.LeaseName, pa.Holder, time.Second); err != nil || !ok {
			t.Fatalf("a takes the lease: %v %v", ok, err)
		}
		a.Close()
		deadline := time.Now().Add(30 * time.Second)
		for {
			deleted, held, err := pb.Prune(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if held {
				if deleted != 50 || time.Since(taken) < time.Second {
					t.Fatalf("b took over after %v and deleted %d", time.Since(taken), deleted)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("b never took over the lease of a dead replica")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if n := count(t, b, "old"); n != 0 {
			t.Fatalf("%d old events left", n)
		}
	})
}
