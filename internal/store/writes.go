package store

import (
	"context"
	"errors"
	"slices"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/regiond/regiond/internal/region"
)

// The writes of regions: each one transaction that bumps the enterprise's generation, writes the
// region and appends its audit event.

// bumpGeneration counts one more write for the enterprise and returns the new generation. Writes
// call it first: the row lock it takes serialises an enterprise's writers, in a fixed order.
func bumpGeneration(tx *gorm.DB, enterpriseID string) (int64, error) {
	err := tx.Table("regiond_generation").Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "enterprise_id"}},
		DoUpdates: clause.Assignments(map[string]any{"generation": gorm.Expr("generation + 1")}),
	}).Create(map[string]any{"enterprise_id": enterpriseID, "generation": 1}).Error
	if err != nil {
		return 0, err
	}
	var gen int64
	err = tx.Table("regiond_generation").Where("enterprise_id = ?", enterpriseID).Select("generation").Row().Scan(&gen)
	return gen, err
}

// Written is the result of a write: the region as stored, the enterprise's new generation, and
// what the write's audit event warns about the region (region.CertificateWarnings).
type Written struct {
	Region     region.Region
	Generation int64
	Warnings   []string
}

// keyFileUnstorable is why a store without an encryption key refuses a key_file.
const keyFileUnstorable = "cannot be stored: this server has no encryption key configured (REGIOND_SECRET_KEY), and key_file is only ever stored encrypted"

// check applies the rules the API schema cannot express (region.Validate), and refuses a key_file
// this store cannot encrypt: one region.Invalid names every offending field.
func (s *Store) check(r region.Region) error {
	errs := region.Validate(r)
	if r.KeyFile != nil && !s.keyring.Enabled() {
		errs = append(errs, region.FieldError{Field: "key_file", Message: keyFileUnstorable})
	}
	if len(errs) > 0 {
		return region.Invalid(errs)
	}
	return nil
}

// CreateRegion checks and stores a new region, and its audit event, in one transaction. The
// region's RegionID must be set; Version becomes 1. region.Invalid: the region breaks a rule;
// ErrConflict: the name is taken in the enterprise.
func (s *Store) CreateRegion(ctx context.Context, r region.Region, ev AuditEvent) (Written, error) {
	if err := s.check(r); err != nil {
		return Written{}, err
	}
	now := now()
	r.Version, r.CreateTime, r.UpdateTime = 1, now, now
	ev.ChangedFields = region.ChangedFields(region.Region{}, r)
	ev.Warnings = region.CertificateWarnings(r, now)
	row, err := s.toRow(r)
	if err != nil {
		return Written{}, err
	}
	var gen int64
	err = s.update(ctx, func(tx *gorm.DB) error {
		if gen, err = bumpGeneration(tx, r.EnterpriseID); err != nil {
			return err
		}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		if err := addHealth(tx, r.RegionID, now); err != nil {
			return err
		}
		return insertAudit(tx, ev, r.RegionID, now)
	})
	return Written{Region: r, Generation: gen, Warnings: ev.Warnings}, err
}

// Precondition limits a write to some versions of a region (If-Match); the zero value allows any.
type Precondition struct {
	// Limited: only Versions may be written (none, when it is empty).
	Limited  bool
	Versions []int64
}

// AtVersion allows a write only on the given version.
func AtVersion(v int64) Precondition { return Precondition{Limited: true, Versions: []int64{v}} }

func (p Precondition) allows(version int64) bool {
	return !p.Limited || slices.Contains(p.Versions, version)
}

// current begins the write of a stored region: it bumps the enterprise's generation (whose row
// lock serialises the enterprise's writers), reads the region with m, and checks its version
// against ifMatch (ErrVersionMismatch).
func (s *Store) current(tx *gorm.DB, enterpriseID, regionID string, m Reading, ifMatch Precondition) (int64, region.Region, error) {
	gen, err := bumpGeneration(tx, enterpriseID)
	if err != nil {
		return 0, region.Region{}, err
	}
	cur, err := s.getRegion(tx, enterpriseID, regionID, m)
	if err != nil {
		return 0, region.Region{}, err
	}
	if !ifMatch.allows(cur.Version) {
		return 0, region.Region{}, ErrVersionMismatch
	}
	return gen, cur, nil
}

// errNoChange rolls back a write that would change nothing.
var errNoChange = errors.New("the write changes nothing")

// UpdateRegion changes a region in one transaction: it reads the current state with m, checks its
// version (ErrVersionMismatch when ifMatch refuses it), applies change, checks the result
// (region.Invalid), stores it with the next version, and records ev with the fields that changed
// and the warnings about the result. Only the TLS columns m reads are written: the others keep
// their stored values, so that a write read without key_file never needs to decrypt it (nor the
// keys it was encrypted with). A change that changes nothing writes nothing: the version, the
// generation and the audit trail stay, as Kubernetes keeps a resourceVersion, so that other
// clients' If-Match tags stay good.
func (s *Store) UpdateRegion(ctx context.Context, enterpriseID, regionID string, m Reading, ifMatch Precondition, change region.Change, ev AuditEvent) (Written, error) {
	columns := []string{"region_name", "region_alias", "url", "wsurl", "httpdomain", "tcpdomain", "status", "desc", "scope", "version", "update_time"}
	if m >= WithCerts {
		columns = append(columns, "ssl_ca_cert", "cert_file")
	}
	if m >= WithSecrets {
		columns = append(columns, "key_file", "key_file_key_id")
	}
	var out Written
	err := s.update(ctx, func(tx *gorm.DB) error {
		gen, cur, err := s.current(tx, enterpriseID, regionID, m, ifMatch)
		if err != nil {
			return err
		}
		next, err := change.Apply(cur)
		if err != nil {
			return err
		}
		if err := s.check(next); err != nil {
			return err
		}
		if len(region.ChangedFields(cur, next)) == 0 {
			// The generation was bumped first, to serialise the enterprise's writers: the
			// rollback undoes it.
			out = Written{Region: cur, Generation: gen - 1, Warnings: region.CertificateWarnings(cur, now())}
			return errNoChange
		}
		next.Version, next.UpdateTime = cur.Version+1, now()
		row, err := s.toRow(next)
		if err != nil {
			return err
		}
		res := tx.Model(&regionRow{}).
			Where("enterprise_id = ? AND region_id = ? AND version = ?", enterpriseID, regionID, cur.Version).
			Select(columns).
			Updates(&row)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrVersionMismatch // changed by a writer outside this enterprise lock (another tool)
		}
		ev.ChangedFields = region.ChangedFields(cur, next)
		ev.Warnings = region.CertificateWarnings(next, next.UpdateTime)
		out = Written{Region: next, Generation: gen, Warnings: ev.Warnings}
		return insertAudit(tx, ev, regionID, next.UpdateTime)
	})
	if errors.Is(err, errNoChange) {
		return out, nil
	}
	return out, err
}

// DeleteRegion removes a region, if ifMatch allows its current version.
func (s *Store) DeleteRegion(ctx context.Context, enterpriseID, regionID string, ifMatch Precondition, ev AuditEvent) (int64, error) {
	var gen int64
	err := s.update(ctx, func(tx *gorm.DB) error {
		var cur region.Region
		var err error
		if gen, cur, err = s.current(tx, enterpriseID, regionID, Public, ifMatch); err != nil {
			return err
		}
		res := tx.Where("enterprise_id = ? AND region_id = ? AND version = ?", enterpriseID, regionID, cur.Version).Delete(&regionRow{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrVersionMismatch
		}
		if err := deleteHealth(tx, regionID); err != nil {
			return err
		}
		return insertAudit(tx, ev, regionID, now())
	})
	return gen, err
}

// toRow converts a region to its row, encrypting key_file with the region id as associated data.
func (s *Store) toRow(r region.Region) (regionRow, error) {
	row := regionRow{
		RegionID: r.RegionID, RegionName: r.RegionName, RegionAlias: r.RegionAlias, RegionType: "[]",
		URL: r.URL, WSURL: r.WSURL, HTTPDomain: r.HTTPDomain, TCPDomain: r.TCPDomain,
		Status: string(r.Status), Desc: r.Desc, Scope: string(r.Scope),
		SSLCACert: r.SSLCACert, CertFile: r.CertFile, EnterpriseID: r.EnterpriseID,
		Version: r.Version, CreateTime: r.CreateTime, UpdateTime: r.UpdateTime,
	}
	if r.KeyFile != nil {
		ct, keyID, err := s.keyring.Encrypt([]byte(*r.KeyFile), []byte(r.RegionID))
		if err != nil {
			return row, err
		}
		row.KeyFile, row.KeyFileKeyID = &ct, &keyID
	}
	return row, nil
}
