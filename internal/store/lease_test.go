package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
)

// TestLease: a free lease is taken, a live one is refused to others and renewed by its holder,
// a released or expired one is taken by another, and of replicas contending at once exactly one
// gets it.
func TestLease(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		a, b := open(t, dsn, nil), open(t, dsn, nil) // two replicas
		try := func(s *store.Store, name, holder string, ttl time.Duration) bool {
			t.Helper()
			ok, err := s.TryLease(ctx, name, holder, ttl)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !try(a, "job", "a", time.Hour) {
			t.Fatal("a free lease was refused")
		}
		if try(b, "job", "b", time.Hour) {
			t.Fatal("a live lease was taken by another holder")
		}
		if !try(a, "job", "a", time.Hour) {
			t.Fatal("the holder could not renew its lease")
		}
		if !try(b, "other-job", "b", time.Hour) {
			t.Fatal("leases of different names are not independent")
		}
		if err := b.ReleaseLease(ctx, "job", "b"); err != nil || try(b, "job", "b", time.Hour) {
			t.Fatalf("releasing a lease one does not hold released it (%v)", err)
		}
		if err := a.ReleaseLease(ctx, "job", "a"); err != nil {
			t.Fatal(err)
		}
		taken := time.Now() // before b's clock reads the time its lease runs from
		if !try(b, "job", "b", time.Second) {
			t.Fatal("a released lease was not taken")
		}
		// b dies holding it: a gets it once it expires, and not before.
		deadline := time.Now().Add(30 * time.Second)
		for !try(a, "job", "a", time.Hour) {
			if time.Now().After(deadline) {
				t.Fatal("an expired lease was never taken over")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if since := time.Since(taken); since < time.Second {
			t.Fatalf("a lease of 1s was taken over after %v", since)
		}
		// Contention on a free lease: exactly one of many replicas gets it.
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []string
		start := make(chan struct{})
		for i := 0; i < 8; i++ {
			s := a
			if i%2 == 1 {
				s = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				holder := fmt.Sprint("r", i)
				ok, err := s.TryLease(ctx, "contended", holder, time.Hour)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					winners = append(winners, holder)
					mu.Unlock()
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("%d replicas got the lease: %v", len(winners), winners)
		}
	})
}
