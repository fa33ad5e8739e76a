package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// TryLease takes the lease called name for holder, until ttl from now, when it is free, expired
// or holder's already (a renewal), and reports whether holder holds it. Of several replicas
// trying at once, exactly one gets it: each statement is atomic, and the update only takes a
// lease that is holder's or expired. Replicas compare expiries with their own clocks, which must
// agree to well within ttl.
func (s *Store) TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	db := s.w.WithContext(ctx)
	var current string
	err := retryConflicts(ctx, func() error {
		now := now()
		until := now.Add(ttl)
		// Make sure the row exists (held by us if it did not); an existing row is left as it is.
		err := db.Table("regiond_lease").Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "name"}},
			DoUpdates: clause.Assignments(map[string]any{"name": gorm.Expr("name")}),
		}).Create(map[string]any{"name": name, "holder": holder, "expires_at": until}).Error
		if err != nil {
			return err
		}
		err = db.Table("regiond_lease").Where("name = ? AND (holder = ? OR expires_at < ?)", name, holder, now).
			Updates(map[string]any{"holder": holder, "expires_at": until}).Error
		if err != nil {
			return err
		}
		// Whoever the row names holds the lease: the update above matched only if it may be us.
		return db.Table("regiond_lease").Where("name = ?", name).Select("holder").Row().Scan(&current)
	})
	if err != nil {
		return false, classify(err)
	}
	return current == holder, nil
}

// ReleaseLease gives up holder's lease called name, so that another replica may take it at once.
// Releasing a lease one does not hold changes nothing.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	return classify(retryConflicts(ctx, func() error {
		return s.w.WithContext(ctx).Exec("DELETE FROM regiond_lease WHERE name = ? AND holder = ?", name, holder).Error
	}))
}
