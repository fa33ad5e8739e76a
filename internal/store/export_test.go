package store

import "context"

// MigrateTo brings the schema to the version id, for tests that start from an older schema.
func MigrateTo(ctx context.Context, s *Store, id string) error { return s.migrateTo(ctx, id) }
