package store

import (
	"context"
	"time"
)

// MigrateTo brings the schema to the version id, for tests that start from an older schema.
func MigrateTo(ctx context.Context, s *Store, id string) error { return s.migrateTo(ctx, id) }

// SetMigrationLockTTL shortens how long a claim to migrate lasts unrenewed, for the tests of its
// expiry; it returns the function that restores it.
func SetMigrationLockTTL(d time.Duration) (restore func()) {
	old := migrationLockTTL
	migrationLockTTL = d
	return func() { migrationLockTTL = old }
}
