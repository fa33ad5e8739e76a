package store

import (
	"context"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Meta returns the server-wide value called name, storing initial first when there is none.
// Every replica gets the same value: the first writer wins, the others read it.
func (s *Store) Meta(ctx context.Context, name, initial string) (string, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	var value string
	err := retryConflicts(ctx, func() error {
		err := s.w.WithContext(ctx).Table("regiond_meta").Clauses(clause.OnConflict{
			// A no-op update: MySQL has no portable "do nothing" for an insert without a model.
			Columns:   []clause.Column{{Name: "name"}},
			DoUpdates: clause.Assignments(map[string]any{"name": gorm.Expr("name")}),
		}).
			Create(map[string]any{"name": name, "value": initial}).Error
		if err != nil {
			return err
		}
		return s.w.WithContext(ctx).Table("regiond_meta").Where("name = ?", name).Select("value").Row().Scan(&value)
	})
	return value, classify(err)
}
