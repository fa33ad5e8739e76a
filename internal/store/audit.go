package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// AuditEvent is one write in the audit trail. ChangedFields names fields only: secret values
// are never recorded. Warnings are what the write's response warned about (an expired
// certificate...).
type AuditEvent struct {
	ID            int64
	Time          time.Time
	EnterpriseID  string
	TokenID       string
	Operation     string
	TargetID      string
	ChangedFields []string
	RequestID     string
	Warnings      []string
}

// Audit operations.
const (
	OpRegionCreate  = "region.create"
	OpRegionReplace = "region.replace"
	OpRegionUpdate  = "region.update"
	OpRegionDelete  = "region.delete"
	OpTokenCreate   = "token.create"
	OpTokenRevoke   = "token.revoke"
)

type auditRow struct {
	ID            int64     `gorm:"column:id;primaryKey"`
	Time          time.Time `gorm:"column:time"`
	EnterpriseID  string    `gorm:"column:enterprise_id"`
	TokenID       string    `gorm:"column:token_id"`
	Operation     string    `gorm:"column:operation"`
	TargetID      string    `gorm:"column:target_id"`
	ChangedFields string    `gorm:"column:changed_fields"`
	RequestID     string    `gorm:"column:request_id"`
	// Warnings holds one warning a line (they never contain one); NULL when there are none.
	Warnings *string `gorm:"column:warnings"`
}

func (auditRow) TableName() string { return "regiond_audit" }

// insertAudit records ev in the write's own transaction: the write and its audit commit together.
func insertAudit(tx *gorm.DB, ev AuditEvent, targetID string, at time.Time) error {
	row := &auditRow{
		Time: at, EnterpriseID: ev.EnterpriseID, TokenID: ev.TokenID, Operation: ev.Operation,
		TargetID: targetID, ChangedFields: strings.Join(ev.ChangedFields, ","), RequestID: ev.RequestID,
	}
	if len(ev.Warnings) > 0 {
		w := strings.Join(ev.Warnings, "\n")
		row.Warnings = &w
	}
	return tx.Create(row).Error
}

// AuditCursor is a position in an enterprise's audit trail: the time and id of the last event of
// the previous page. Newest first is by time, then id: ids are not in time order on Galera, whose
// nodes hand out AUTO_INCREMENT values in interleaved series.
type AuditCursor struct {
	Time time.Time
	ID   int64
}

// Cursor is the position just after e.
func (e AuditEvent) Cursor() AuditCursor { return AuditCursor{Time: e.Time, ID: e.ID} }

// String is the cursor as ParseAuditCursor reads it: unix microseconds, ".", id.
func (c AuditCursor) String() string {
	return strconv.FormatInt(c.Time.UnixMicro(), 10) + "." + strconv.FormatInt(c.ID, 10)
}

// ParseAuditCursor reads AuditCursor.String's form, or an event id alone: the position earlier
// versions put in page tokens, whose time ListAudit looks up.
func ParseAuditCursor(s string) (AuditCursor, error) {
	micros, id, timed := strings.Cut(s, ".")
	if !timed {
		id = micros
	}
	var c AuditCursor
	var err error
	if c.ID, err = strconv.ParseInt(id, 10, 64); err != nil || c.ID <= 0 {
		return c, fmt.Errorf("audit cursor %q: not a position", s)
	}
	if timed {
		us, err := strconv.ParseInt(micros, 10, 64)
		if err != nil {
			return c, fmt.Errorf("audit cursor %q: not a position", s)
		}
		c.Time = time.UnixMicro(us).UTC()
	}
	return c, nil
}

// ListAudit returns an enterprise's events newest first, those after the cursor when it is set,
// at most limit of them.
func (s *Store) ListAudit(ctx context.Context, enterpriseID string, after *AuditCursor, limit int) ([]AuditEvent, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	db := s.reader(ctx).Where("enterprise_id = ?", enterpriseID)
	if after != nil {
		at := after.Time
		if at.IsZero() { // an id alone: the event's time; if it was pruned, so was every older event
			var times []time.Time
			if err := s.reader(ctx).Table("regiond_audit").Where("enterprise_id = ? AND id = ?", enterpriseID, after.ID).
				Pluck("time", &times).Error; err != nil {
				return nil, classify(err)
			}
			if len(times) == 0 {
				return nil, nil
			}
			at = times[0]
		}
		db = db.Where("time < ? OR (time = ? AND id < ?)", at, at, after.ID)
	}
	var rows []auditRow
	if err := db.Order("time DESC, id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, classify(err)
	}
	out := make([]AuditEvent, len(rows))
	for i, r := range rows {
		var fields []string
		if r.ChangedFields != "" {
			fields = strings.Split(r.ChangedFields, ",")
		}
		out[i] = AuditEvent{ID: r.ID, Time: r.Time.UTC(), EnterpriseID: r.EnterpriseID, TokenID: r.TokenID,
			Operation: r.Operation, TargetID: r.TargetID, ChangedFields: fields, RequestID: r.RequestID}
		if r.Warnings != nil {
			out[i].Warnings = strings.Split(*r.Warnings, "\n")
		}
	}
	return out, nil
}

// PruneAudit deletes at most batch audit events older than before and returns how many it
// deleted: fewer than batch means none is left. Each call is two short statements and holds no
// transaction, so that writes (which insert audit events) never wait long behind it.
func (s *Store) PruneAudit(ctx context.Context, before time.Time, batch int) (int64, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	db := s.w.WithContext(ctx)
	var ids []int64
	if err := db.Table("regiond_audit").Where("time < ?", before.UTC()).Limit(batch).Pluck("id", &ids).Error; err != nil {
		return 0, classify(err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	var deleted int64
	err := retryConflicts(ctx, func() error {
		res := db.Where("id IN ? AND time < ?", ids, before.UTC()).Delete(&auditRow{})
		deleted = res.RowsAffected
		return res.Error
	})
	return deleted, classify(err)
}
