package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/regiond/regiond/internal/region"
)

// regionRow is a row of Rainbond's region_info table. KeyFile holds ciphertext.
type regionRow struct {
	ID           uint      `gorm:"column:ID;primaryKey"`
	RegionID     string    `gorm:"column:region_id"`
	RegionName   string    `gorm:"column:region_name"`
	RegionAlias  string    `gorm:"column:region_alias"`
	RegionType   string    `gorm:"column:region_type"`
	URL          string    `gorm:"column:url"`
	WSURL        string    `gorm:"column:wsurl"`
	HTTPDomain   string    `gorm:"column:httpdomain"`
	TCPDomain    string    `gorm:"column:tcpdomain"`
	Status       string    `gorm:"column:status"`
	CreateTime   time.Time `gorm:"column:create_time"`
	Desc         string    `gorm:"column:desc"`
	Scope        string    `gorm:"column:scope"`
	SSLCACert    *string   `gorm:"column:ssl_ca_cert"`
	CertFile     *string   `gorm:"column:cert_file"`
	KeyFile      *string   `gorm:"column:key_file"`
	KeyFileKeyID *string   `gorm:"column:key_file_key_id"`
	EnterpriseID string    `gorm:"column:enterprise_id"`
	Version      int64     `gorm:"column:version"`
	UpdateTime   time.Time `gorm:"column:update_time"`
}

func (regionRow) TableName() string { return "region_info" }

// Columns read for a region, without and with the TLS material. Lists never read key_file.
const (
	regionColumns    = "region_id, region_name, region_alias, url, wsurl, httpdomain, tcpdomain, status, `desc`, scope, enterprise_id, version"
	regionTimes      = ", create_time, update_time" // one region's reads only: lists do not show them
	regionTLSColumns = ", ssl_ca_cert, cert_file"
	regionKeyColumns = ", key_file, key_file_key_id"
)

// Reading mode says which TLS columns a read includes.
type Reading int

const (
	// Public reads leave every TLS field nil.
	Public Reading = iota
	// WithCerts reads ssl_ca_cert and cert_file (lists for tokens holding regions:secrets).
	WithCerts
	// WithSecrets reads all three TLS fields and decrypts key_file.
	WithSecrets
)

func (s *Store) columns(m Reading, times bool) string {
	cols := regionColumns
	if times {
		cols += regionTimes
	}
	if m >= WithCerts {
		cols += regionTLSColumns
	}
	if m >= WithSecrets {
		cols += regionKeyColumns
	}
	if s.dsn.Backend == SQLite {
		cols = strings.ReplaceAll(cols, "`", `"`)
	}
	return cols
}

// scanRegion reads one row selected with s.columns(m, times).
func (s *Store) scanRegion(rows *sql.Rows, m Reading, times bool) (region.Region, error) {
	var r region.Region
	var status, scope string
	dest := []any{&r.RegionID, &r.RegionName, &r.RegionAlias, &r.URL, &r.WSURL, &r.HTTPDomain, &r.TCPDomain,
		&status, &r.Desc, &scope, &r.EnterpriseID, &r.Version}
	if times {
		dest = append(dest, &r.CreateTime, &r.UpdateTime)
	}
	var keyFile, keyID sql.NullString
	if m >= WithCerts {
		dest = append(dest, &r.SSLCACert, &r.CertFile)
	}
	if m >= WithSecrets {
		dest = append(dest, &keyFile, &keyID)
	}
	if err := rows.Scan(dest...); err != nil {
		return r, err
	}
	r.Status, r.Scope = region.Status(status), region.Scope(scope)
	r.CreateTime, r.UpdateTime = r.CreateTime.UTC(), r.UpdateTime.UTC()
	if keyFile.Valid {
		plain, err := s.keyring.Decrypt(keyFile.String, keyID.String, []byte(r.RegionID))
		if err != nil {
			return r, fmt.Errorf("%w: region %s: %v", ErrSecretUnreadable, r.RegionID, err)
		}
		p := string(plain)
		r.KeyFile = &p
	}
	return r, nil
}

// RegionQuery selects regions of one enterprise. Results are ordered by region_name.
type RegionQuery struct {
	EnterpriseID string
	Statuses     []region.Status
	Scope        region.Scope
	// Text keeps regions whose name or alias contains it (ASCII case-insensitively).
	Text string
	// After keeps regions whose name sorts after it: the keyset cursor.
	After string
	// Limit caps the number of regions; 0 means all.
	Limit   int
	Reading Reading
}

// filtered applies the query's filters, not its cursor or limit.
func (s *Store) filtered(db *gorm.DB, q RegionQuery) *gorm.DB {
	table := "region_info"
	if s.dsn.Backend == MySQL && len(q.Statuses) == 0 {
		// Keyset pages walk (enterprise_id, region_name). Left to itself, MariaDB reads the
		// enterprise's rows by enterprise_id alone and filters region_name > ? row by row: a page
		// 90,000 regions deep took 10 ms instead of 0.2 ms.
		table += " FORCE INDEX (region_info_enterprise_name)"
	}
	db = db.Table(table).Where("enterprise_id = ?", q.EnterpriseID)
	if len(q.Statuses) > 0 {
		db = db.Where("status IN ?", q.Statuses)
	}
	if q.Scope != "" {
		db = db.Where("scope = ?", q.Scope)
	}
	if q.Text != "" {
		// '!' escapes LIKE wildcards the same way on both backends.
		pattern := "%" + strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(q.Text) + "%"
		db = db.Where("(region_name LIKE ? ESCAPE '!' OR LOWER(region_alias) LIKE LOWER(?) ESCAPE '!')", strings.ToLower(pattern), pattern)
	}
	return db
}

// ListRegions returns the regions the query selects, in order. A caller reading many bounds them
// with q.Limit and reads on from the last one's name (q.After): the rows are read, and the
// connection released, before it returns.
func (s *Store) ListRegions(ctx context.Context, q RegionQuery) ([]region.Region, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	db := s.filtered(s.reader(ctx), q).Select(s.columns(q.Reading, false))
	if q.After != "" {
		db = db.Where("region_name > ?", q.After)
	}
	db = db.Order("region_name")
	if q.Limit > 0 {
		db = db.Limit(q.Limit)
	}
	rows, err := db.Rows()
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []region.Region
	for rows.Next() {
		r, err := s.scanRegion(rows, q.Reading, false)
		if err != nil {
			return nil, classify(err)
		}
		out = append(out, r)
	}
	return out, classify(rows.Err())
}

// CountRegions counts the regions the query's filters select (ignoring cursor and limit).
func (s *Store) CountRegions(ctx context.Context, q RegionQuery) (int64, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	var n int64
	err := s.filtered(s.reader(ctx), q).Count(&n).Error
	return n, classify(err)
}

// GetRegion reads one region of an enterprise.
func (s *Store) GetRegion(ctx context.Context, enterpriseID, regionID string, m Reading) (region.Region, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	return s.getRegion(s.reader(ctx), enterpriseID, regionID, m)
}

// GetRegionByIDOrName reads the region of an enterprise whose id is idOrName or, when none is,
// the one whose region_name is: Rainbond's detail call takes either. Ids come first, so a region
// named like another's id never hides that one. One query.
func (s *Store) GetRegionByIDOrName(ctx context.Context, enterpriseID, idOrName string, m Reading) (region.Region, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	r, err := s.readRegion(s.reader(ctx).Table("region_info").
		Where("enterprise_id = ? AND (region_id = ? OR region_name = ?)", enterpriseID, idOrName, idOrName).
		Clauses(clause.OrderBy{Expression: clause.Expr{SQL: "CASE WHEN region_id = ? THEN 0 ELSE 1 END", Vars: []any{idOrName}}}), m)
	if err == nil && r.RegionID != idOrName && r.RegionName != idOrName {
		// MySQL's region_name collation (utf8mb4_bin) pads: "hz " equals "hz" there, not here.
		return region.Region{}, ErrNotFound
	}
	return r, err
}

func (s *Store) getRegion(db *gorm.DB, enterpriseID, regionID string, m Reading) (region.Region, error) {
	return s.readRegion(db.Table("region_info").Where("enterprise_id = ? AND region_id = ?", enterpriseID, regionID), m)
}

// readRegion reads the first region q selects, with its times; ErrNotFound when there is none.
func (s *Store) readRegion(q *gorm.DB, m Reading) (region.Region, error) {
	rows, err := q.Select(s.columns(m, true)).Limit(1).Rows()
	if err != nil {
		return region.Region{}, classify(err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return region.Region{}, classify(err)
		}
		return region.Region{}, ErrNotFound
	}
	r, err := s.scanRegion(rows, m, true)
	return r, classify(err)
}

// Generation is the count of writes to an enterprise's regions: it changes whenever any of them
// changes, so a cached list built at generation g is current while Generation returns g.
func (s *Store) Generation(ctx context.Context, enterpriseID string) (int64, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	var gens []int64
	err := s.reader(ctx).Table("regiond_generation").Where("enterprise_id = ?", enterpriseID).Pluck("generation", &gens).Error
	if err != nil || len(gens) == 0 {
		return 0, classify(err)
	}
	return gens[0], nil
}

// Generations returns the generation of every enterprise that has one.
func (s *Store) Generations(ctx context.Context) (map[string]int64, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	var rows []struct {
		EnterpriseID string
		Generation   int64
	}
	if err := s.reader(ctx).Table("regiond_generation").Select("enterprise_id, generation").Scan(&rows).Error; err != nil {
		return nil, classify(err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.EnterpriseID] = r.Generation
	}
	return out, nil
}
