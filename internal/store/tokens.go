package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/regiond/regiond/internal/token"
)

type tokenRow struct {
	ID           string     `gorm:"column:id;primaryKey"`
	EnterpriseID string     `gorm:"column:enterprise_id"`
	Prefix       string     `gorm:"column:prefix"`
	Hash         string     `gorm:"column:hash"`
	Scopes       string     `gorm:"column:scopes"`
	Note         string     `gorm:"column:note"`
	CreatedAt    storedTime `gorm:"column:created_at"`
	ExpiresAt    storedTime `gorm:"column:expires_at"`
	LastUsedAt   storedTime `gorm:"column:last_used_at"`
	RevokedAt    storedTime `gorm:"column:revoked_at"`
	CreatedBy    string     `gorm:"column:created_by"`
}

func (tokenRow) TableName() string { return "regiond_token" }

// token converts a row. A stored time that is not one, or lies past what the API can show, is
// reported in the log and read so that the token fails closed: past 9999 as MaxTime, unreadable
// as the Unix epoch (an unreadable expiry has expired). A read never fails because of one row.
func (s *Store) token(ctx context.Context, r tokenRow) token.Token {
	read := func(column string, st storedTime) *time.Time {
		var t time.Time
		switch {
		case !st.Valid:
			return nil
		case st.Unreadable != "":
			t = time.Unix(0, 0).UTC()
			s.opts.Logger.WarnContext(ctx, "a token's stored time is not a time; it reads as the Unix epoch (an unreadable expiry counts as expired)",
				"token_id", r.ID, "column", column, "stored", truncate(st.Unreadable, 64))
		case st.Time.After(MaxTime):
			t = MaxTime
			s.opts.Logger.WarnContext(ctx, "a token's stored time is past year 9999; it reads as "+MaxTime.Format(time.RFC3339Nano),
				"token_id", r.ID, "column", column)
		default:
			t = st.Time
		}
		return &t
	}
	scopes, _ := token.ParseScopes(r.Scopes)
	var created time.Time
	if c := read("created_at", r.CreatedAt); c != nil {
		created = *c
	}
	return token.Token{ID: r.ID, EnterpriseID: r.EnterpriseID, Prefix: r.Prefix, Hash: r.Hash, Scopes: scopes,
		Note: r.Note, CreatedAt: created, ExpiresAt: read("expires_at", r.ExpiresAt), LastUsedAt: read("last_used_at", r.LastUsedAt),
		RevokedAt: read("revoked_at", r.RevokedAt), CreatedBy: r.CreatedBy}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// tokenFields are the fields a token's creation sets, as its audit event names them.
var tokenFields = []string{"scopes", "note", "expires_at"}

// CreateToken stores a token (its hash, never its value) and the audit event of its creation.
// It refuses an enterprise id outside token.EnterpriseIDFormat and times the database cannot
// hold (ErrTimeOutOfRange), whoever the caller.
func (s *Store) CreateToken(ctx context.Context, t token.Token, ev AuditEvent) error {
	if err := checkToken(t); err != nil {
		return err
	}
	row := newTokenRow(t)
	ev.ChangedFields = tokenFields
	return s.update(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		return insertAudit(tx, ev, t.ID, row.CreatedAt.Time)
	})
}

func checkToken(t token.Token) error {
	if err := token.CheckEnterpriseID(t.EnterpriseID); err != nil {
		return err
	}
	if !Storable(t.CreatedAt) || t.ExpiresAt != nil && !Storable(*t.ExpiresAt) {
		return ErrTimeOutOfRange
	}
	return nil
}

func newTokenRow(t token.Token) tokenRow {
	return tokenRow{ID: t.ID, EnterpriseID: t.EnterpriseID, Prefix: t.Prefix, Hash: t.Hash,
		Scopes: token.JoinScopes(t.Scopes), Note: t.Note, CreatedAt: storedTimeOf(&t.CreatedAt), ExpiresAt: storedTimeOf(t.ExpiresAt),
		CreatedBy: t.CreatedBy}
}

// errNotFirst rolls back a first token that is not the first.
var errNotFirst = errors.New("the database has its first token")

// CreateFirstToken stores t, like CreateToken, only as the database's first token: of any number
// of replicas trying at once on an empty database exactly one succeeds, because each first claims
// the meta row bootstrap_admin in the same transaction, and the claim conflicts for all but one.
// created is false, and nothing is written, when another claimed it or a token exists.
func (s *Store) CreateFirstToken(ctx context.Context, t token.Token, ev AuditEvent) (created bool, err error) {
	if err := checkToken(t); err != nil {
		return false, err
	}
	row := newTokenRow(t)
	ev.ChangedFields = tokenFields
	err = s.update(ctx, func(tx *gorm.DB) error {
		err := tx.Table("regiond_meta").Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "name"}},
			DoUpdates: clause.Assignments(map[string]any{"name": gorm.Expr("name")}), // keep the claim there is
		}).Create(map[string]any{"name": "bootstrap_admin", "value": t.ID}).Error
		if err != nil {
			return err
		}
		var claimant string
		if err := tx.Table("regiond_meta").Where("name = ?", "bootstrap_admin").Select("value").Row().Scan(&claimant); err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&tokenRow{}).Count(&n).Error; err != nil {
			return err
		}
		if claimant != t.ID || n > 0 {
			return errNotFirst
		}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		return insertAudit(tx, ev, t.ID, row.CreatedAt.Time)
	})
	if errors.Is(err, errNotFirst) {
		return false, nil
	}
	return err == nil, err
}

// TokenByHash finds the token whose value hashes to hash.
func (s *Store) TokenByHash(ctx context.Context, hash string) (token.Token, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	var row tokenRow
	if err := s.reader(ctx).Where("hash = ?", hash).Take(&row).Error; err != nil {
		return token.Token{}, classify(err)
	}
	return s.token(ctx, row), nil
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
	return s.token(ctx, row), nil
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
		out[i] = s.token(ctx, r)
	}
	return out, nil
}

// RevokeToken revokes a token of an enterprise ("" for any enterprise) and, in the same
// transaction, every token it minted, transitively (created_by): no token outlives the token that
// made it. Each revocation is audited once; revoking a revoked token revokes only what it minted
// that is still valid. It returns the token as stored.
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
		now := now()
		ev.EnterpriseID = row.EnterpriseID
		revoke := func(id string) error {
			if err := tx.Model(&tokenRow{}).Where("id = ?", id).Update("revoked_at", now).Error; err != nil {
				return err
			}
			return insertAudit(tx, ev, id, now)
		}
		if !row.RevokedAt.Valid {
			if err := revoke(id); err != nil {
				return err
			}
			row.RevokedAt = storedTimeOf(&now)
		}
		seen := map[string]bool{id: true}
		for parents := []string{id}; len(parents) > 0; {
			var children []tokenRow
			err := tx.Select("id", "revoked_at").Where("enterprise_id = ? AND created_by IN ?", row.EnterpriseID, parents).
				Order("id").Find(&children).Error
			if err != nil {
				return err
			}
			parents = nil
			for _, c := range children {
				if seen[c.ID] {
					continue
				}
				seen[c.ID] = true
				parents = append(parents, c.ID)
				if !c.RevokedAt.Valid {
					if err := revoke(c.ID); err != nil {
						return err
					}
				}
			}
		}
		out = s.token(ctx, row)
		return nil
	})
	return out, err
}

// TouchToken records that a token was used at.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	return classify(retryConflicts(ctx, func() error {
		return s.w.WithContext(ctx).Model(&tokenRow{}).Where("id = ?", id).Update("last_used_at", at.UTC()).Error
	}))
}

// CountTokens counts all tokens of all enterprises.
func (s *Store) CountTokens(ctx context.Context) (int64, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	var n int64
	err := s.reader(ctx).Model(&tokenRow{}).Count(&n).Error
	return n, classify(err)
}
