package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/regiond/regiond/internal/token"
)

type tokenRow struct {
	ID           string     `gorm:"column:id;primaryKey"`
	EnterpriseID string     `gorm:"column:enterprise_id"`
	Prefix       string     `gorm:"column:prefix"`
	Hash         string     `gorm:"column:hash"`
	Scopes       string     `gorm:"column:scopes"`
	Note         string     `gorm:"column:note"`
	CreatedAt    time.Time  `gorm:"column:created_at"`
	ExpiresAt    *time.Time `gorm:"column:expires_at"`
	LastUsedAt   *time.Time `gorm:"column:last_used_at"`
	RevokedAt    *time.Time `gorm:"column:revoked_at"`
	CreatedBy    string     `gorm:"column:created_by"`
}

func (tokenRow) TableName() string { return "regiond_token" }

func (r tokenRow) token() token.Token {
	scopes, _ := token.ParseScopes(r.Scopes)
	return token.Token{ID: r.ID, EnterpriseID: r.EnterpriseID, Prefix: r.Prefix, Hash: r.Hash, Scopes: scopes,
		Note: r.Note, CreatedAt: r.CreatedAt.UTC(), ExpiresAt: utc(r.ExpiresAt), LastUsedAt: utc(r.LastUsedAt),
		RevokedAt: utc(r.RevokedAt), CreatedBy: r.CreatedBy}
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// CreateToken stores a token (its hash, never its value) and the audit event of its creation.
// It refuses an enterprise id outside token.EnterpriseIDFormat, whoever the caller.
func (s *Store) CreateToken(ctx context.Context, t token.Token, ev AuditEvent) error {
	if err := token.CheckEnterpriseID(t.EnterpriseID); err != nil {
		return err
	}
	row := tokenRow{ID: t.ID, EnterpriseID: t.EnterpriseID, Prefix: t.Prefix, Hash: t.Hash,
		Scopes: token.JoinScopes(t.Scopes), Note: t.Note, CreatedAt: t.CreatedAt.UTC(), ExpiresAt: utc(t.ExpiresAt),
		CreatedBy: t.CreatedBy}
	return s.update(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		return insertAudit(tx, ev, t.ID, row.CreatedAt)
	})
}

// TokenByHash finds the token whose value hashes to hash.
func (s *Store) TokenByHash(ctx context.Context, hash string) (token.Token, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	var row tokenRow
	if err := s.reader(ctx).Where("hash = ?", hash).Take(&row).Error; err != nil {
		return token.Token{}, classify(err)
	}
	return row.token(), nil
}

// GetToken reads a token of an enterprise ("" for any enterprise) by id.
func (s *Store) GetToken(ctx context.Context, enterpriseID, id string) (token.Token, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	db := s.reader(ctx).Where("id = ?", id)
	if enterpriseID != "" {
		db = db.Where("enterprise_id = ?", enterpriseID)
	}
	var row tokenRow
	if err := db.Take(&row).Error; err != nil {
		return token.Token{}, classify(err)
	}
	return row.token(), nil
}

// TokenCursor is a position in a token list (newest first).
type TokenCursor struct {
	CreatedAt time.Time
	ID        string
}

// ListTokens returns an enterprise's tokens newest first ("" for all enterprises), after the
// cursor when it is set, at most limit of them (0 for all).
func (s *Store) ListTokens(ctx context.Context, enterpriseID string, after *TokenCursor, limit int) ([]token.Token, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	db := s.reader(ctx)
	if enterpriseID != "" {
		db = db.Where("enterprise_id = ?", enterpriseID)
	}
	if after != nil {
		db = db.Where("created_at < ? OR (created_at = ? AND id < ?)", after.CreatedAt, after.CreatedAt, after.ID)
	}
	if limit > 0 {
		db = db.Limit(limit)
	}
	var rows []tokenRow
	if err := db.Order("created_at DESC, id DESC").Find(&rows).Error; err != nil {
		return nil, classify(err)
	}
	out := make([]token.Token, len(rows))
	for i, r := range rows {
		out[i] = r.token()
	}
	return out, nil
}

// RevokeToken revokes a token of an enterprise ("" for any enterprise). Revoking a revoked
// token changes nothing and is not audited again. It returns the token as stored.
func (s *Store) RevokeToken(ctx context.Context, enterpriseID, id string, ev AuditEvent) (token.Token, error) {
	var out token.Token
	err := s.update(ctx, func(tx *gorm.DB) error {
		db := tx.Where("id = ?", id)
		if enterpriseID != "" {
			db = db.Where("enterprise_id = ?", enterpriseID)
		}
		var row tokenRow
		if err := db.Take(&row).Error; err != nil {
			return err
		}
		if row.RevokedAt == nil {
			now := now()
			if err := tx.Model(&tokenRow{}).Where("id = ?", id).Update("revoked_at", now).Error; err != nil {
				return err
			}
			row.RevokedAt = &now
			ev.EnterpriseID = row.EnterpriseID
			if err := insertAudit(tx, ev, id, now); err != nil {
				return err
			}
		}
		out = row.token()
		return nil
	})
	return out, err
}

// TouchToken records that a token was used at.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	return classify(s.w.WithContext(ctx).Model(&tokenRow{}).Where("id = ?", id).Update("last_used_at", at.UTC()).Error)
}

// CountTokens counts all tokens of all enterprises.
func (s *Store) CountTokens(ctx context.Context) (int64, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	var n int64
	err := s.reader(ctx).Model(&tokenRow{}).Count(&n).Error
	return n, classify(err)
}
