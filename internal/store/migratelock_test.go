package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
)

// TestMigrationLock (MySQL): a replica waits to migrate while another holds the migration lock
// and renews it, takes over a claim its holder stopped renewing (it died) once it expires, and
// releases the lock when done.
func TestMigrationLock(t *testing.T) {
	defer store.SetMigrationLockTTL(time.Second)()
	ctx := context.Background()
	dsn := dbtest.MySQL(t)
	s := open(t, dsn, nil) // migrated: the lock table exists and is free
	w, _ := s.DBs()
	held := func() (n int) {
		t.Helper()
		if err := w.QueryRow("SELECT COUNT(*) FROM regiond_migration_lock").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := held(); n != 0 {
		t.Fatalf("after migrating, %d claims are left", n)
	}
	claim := func(holder string, ttl time.Duration) {
		t.Helper()
		if _, err := w.Exec("REPLACE INTO regiond_migration_lock (name, holder, expires_at) VALUES ('migrate', ?, UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND)",
			holder, ttl.Microseconds()); err != nil {
			t.Fatal(err)
		}
	}
	migrate := func() (<-chan error, func() time.Time) {
		done := make(chan error, 1)
		var finished time.Time
		go func() {
			err := s.Migrate(ctx)
			finished = time.Now()
			done <- err
		}()
		return done, func() time.Time { return finished }
	}

	// A live holder renews its claim: the migration waits until it releases it.
	claim("live", time.Second)
	done, finishedAt := migrate()
	stop := time.Now().Add(3 * time.Second)
	for time.Now().Before(stop) {
		claim("live", time.Second)
		time.Sleep(100 * time.Millisecond)
	}
	released := time.Now()
	if _, err := w.Exec("DELETE FROM regiond_migration_lock WHERE holder = 'live'"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if finishedAt().Before(released) {
		t.Fatalf("migrated at %v, before the live holder released the lock at %v", finishedAt(), released)
	}

	// A dead holder: its claim is taken over once it expires, and not before.
	claim("dead", 2*time.Second)
	claimed := time.Now()
	done, finishedAt = migrate()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if waited := finishedAt().Sub(claimed); waited < time.Second {
		t.Fatalf("a claim of 2s was taken over after %v", waited)
	}
	if n := held(); n != 0 {
		t.Fatalf("after migrating, %d claims are left", n)
	}
}
