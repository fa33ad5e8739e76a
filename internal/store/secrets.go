package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// UndecryptableKeyFiles counts the stored key_file values encrypted with a key the keyring does not
// hold (a value stored without a key id counts too: no key opens it), and names those keys. It
// reads the key ids only, in one query: nothing is decrypted.
func (s *Store) UndecryptableKeyFiles(ctx context.Context) (regions int64, keyIDs []string, err error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	var byKey []struct {
		KeyID   sql.NullString
		Regions int64
	}
	err = s.reader(ctx).Table("region_info").Select("key_file_key_id AS key_id, COUNT(*) AS regions").
		Where("key_file IS NOT NULL").Group("key_file_key_id").Scan(&byKey).Error
	if err != nil {
		return 0, nil, classify(err)
	}
	for _, k := range byKey {
		if !s.keyring.Holds(k.KeyID.String) {
			regions += k.Regions
			keyIDs = append(keyIDs, cmp.Or(k.KeyID.String, "(none)"))
		}
	}
	return regions, keyIDs, nil
}

// RotateSecrets re-encrypts every key_file that is not under the primary key, in batches. The
// regions' versions do not change: what clients see is the same. It returns how many it rewrote.
func (s *Store) RotateSecrets(ctx context.Context) (int, error) {
	if !s.keyring.Enabled() {
		return 0, errors.New("no encryption key is configured: nothing to rotate to")
	}
	primary := s.keyring.PrimaryID()
	total := 0
	for {
		var rows []regionRow
		qctx, cancel := s.deadline(ctx)
		err := s.w.WithContext(qctx).Select("ID", "region_id", "key_file", "key_file_key_id").
			Where("key_file IS NOT NULL AND (key_file_key_id IS NULL OR key_file_key_id <> ?)", primary).
			Order("ID").Limit(100).Find(&rows).Error
		cancel()
		if err != nil {
			return total, classify(err)
		}
		if len(rows) == 0 {
			return total, nil
		}
		for _, row := range rows {
			var keyID string
			if row.KeyFileKeyID != nil {
				keyID = *row.KeyFileKeyID
			}
			plain, err := s.keyring.Decrypt(*row.KeyFile, keyID, []byte(row.RegionID))
			if err != nil {
				return total, fmt.Errorf("region %s: %w", row.RegionID, err)
			}
			ct, keyID, err := s.keyring.Encrypt(plain, []byte(row.RegionID))
			if err != nil {
				return total, err
			}
			qctx, cancel := s.deadline(ctx)
			err = retryConflicts(qctx, func() error {
				return s.w.WithContext(qctx).Model(&regionRow{}).
					Where("ID = ? AND key_file = ?", row.ID, *row.KeyFile). // unless a write replaced it meanwhile
					Updates(map[string]any{"key_file": ct, "key_file_key_id": keyID}).Error
			})
			cancel()
			if err != nil {
				return total, classify(err)
			}
			total++
		}
	}
}
