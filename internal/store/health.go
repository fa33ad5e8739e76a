package store

import (
	"context"
	"database/sql"
	"time"

	"gorm.io/gorm"

	"github.com/regiond/regiond/internal/region"
)

// The health of regions (regiond_region_health, migration 0009): what the prober last saw of each
// region, and each region's place in the probe schedule. Replicas share the schedule through the
// rows: a replica probes a region only after claiming its row (ClaimDueRegions), so that however
// many replicas run, each due region is probed by one of them.

// healthColumns are read into a region.Health by scanHealth, h being regiond_region_health.
const healthColumns = "h.state, h.reason, h.detail, h.checked_at, h.latency_ms, h.last_healthy_at, h.consecutive_failures, h.version, " +
	"h.cluster_cpu_total_cores, h.cluster_cpu_used_cores, h.cluster_memory_total_bytes, h.cluster_memory_used_bytes, " +
	"h.cluster_disk_total_bytes, h.cluster_disk_used_bytes"

// scanHealth reads healthColumns; a region without a row (all NULL) is "unknown".
func scanHealth(row interface{ Scan(...any) error }, regionID string) (region.Health, error) {
	var state, reason, detail, version sql.NullString
	var checked, lastHealthy storedTime
	var latency sql.NullInt64
	var failures sql.NullInt64
	var c [6]sql.NullFloat64
	err := row.Scan(&state, &reason, &detail, &checked, &latency, &lastHealthy, &failures, &version, &c[0], &c[1], &c[2], &c[3], &c[4], &c[5])
	if err != nil {
		return region.Health{}, err
	}
	h := region.Health{RegionID: regionID, State: "unknown", Reason: reason.String, Detail: detail.String,
		ConsecutiveFailures: int(failures.Int64), Version: version.String}
	if state.Valid && state.String != "" {
		h.State = state.String
	}
	if checked.Valid && checked.Unreadable == "" {
		h.CheckedAt = &checked.Time
	}
	if lastHealthy.Valid && lastHealthy.Unreadable == "" {
		h.LastHealthyAt = &lastHealthy.Time
	}
	if latency.Valid {
		h.LatencyMS = &latency.Int64
	}
	var cluster region.ClusterResources
	for i, dst := range []**float64{&cluster.CPUTotalCores, &cluster.CPUUsedCores, &cluster.MemoryTotalBytes,
		&cluster.MemoryUsedBytes, &cluster.DiskTotalBytes, &cluster.DiskUsedBytes} {
		if c[i].Valid {
			*dst = &c[i].Float64
		}
	}
	if cluster != (region.ClusterResources{}) {
		h.Cluster = &cluster
	}
	return h, nil
}

// RegionHealth reads what the prober last saw of one region of an enterprise: ErrNotFound for a
// region that does not exist there, State "unknown" with nothing else set for one never probed.
func (s *Store) RegionHealth(ctx context.Context, enterpriseID, regionID string) (region.Health, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	rows, err := s.reader(ctx).Raw("SELECT "+healthColumns+" FROM region_info r LEFT JOIN regiond_region_health h ON h.region_id = r.region_id "+
		"WHERE r.enterprise_id = ? AND r.region_id = ?", enterpriseID, regionID).Rows()
	if err != nil {
		return region.Health{}, classify(err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return region.Health{}, classify(err)
		}
		return region.Health{}, ErrNotFound
	}
	h, err := scanHealth(rows, regionID)
	return h, classify(err)
}

// AdoptRegions puts every region without a health row in the schedule, due at now, and deletes
// the rows of regions that are gone. Regions created through regiond get their row with the
// region (CreateRegion); this sweep is for regions another tool inserts (a Rainbond console sharing
// the database) or a replica of an older version created. It reads every region: on 100,000 it
// held SQLite's writer for 0.5-1s, which is why the scheduler runs it rarely.
func (s *Store) AdoptRegions(ctx context.Context, now time.Time) error {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	insert := "INSERT IGNORE"
	if s.dsn.Backend == SQLite {
		insert = "INSERT OR IGNORE"
	}
	db := s.w.WithContext(ctx)
	return classify(retryConflicts(ctx, func() error {
		err := db.Exec(insert+" INTO regiond_region_health (region_id, next_probe_at) SELECT r.region_id, ? FROM region_info r "+
			"WHERE NOT EXISTS (SELECT 1 FROM regiond_region_health h WHERE h.region_id = r.region_id)", now.UTC()).Error
		if err != nil {
			return err
		}
		return db.Exec("DELETE FROM regiond_region_health WHERE NOT EXISTS " +
			"(SELECT 1 FROM region_info r WHERE r.region_id = regiond_region_health.region_id)").Error
	}))
}

// ProbeResult is one probe's outcome as stored: Health's State, Reason, Detail, CheckedAt,
// LatencyMS, Version and Cluster (its other members are the store's to keep), and the earliest
// expiry of the certificates in ssl_ca_cert and cert_file (nil: none), for the metrics.
type ProbeResult struct {
	Health                              region.Health
	SSLCACertNotAfter, CertFileNotAfter *time.Time
	// DetailsAt is when the probe asked for the version and the cluster resources, whatever they
	// answered (nil: it did not); a healthy result stores it (HealthClaim.DetailsAt).
	DetailsAt *time.Time
}

// RecordHealth stores the result of a probe on demand and schedules the region's next probe at
// next(the consecutive failures counting this result), whatever claim holds the row (it clears
// it: the claimed result, older, is then refused). ok is false when the region is gone.
func (s *Store) RecordHealth(ctx context.Context, res ProbeResult, next func(failures int) time.Time) (ok bool, err error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	insert := "INSERT IGNORE"
	if s.dsn.Backend == SQLite {
		insert = "INSERT OR IGNORE"
	}
	h, db := res.Health, s.w.WithContext(ctx)
	err = retryConflicts(ctx, func() error {
		err := db.Exec(insert+" INTO regiond_region_health (region_id, next_probe_at) SELECT region_id, ? FROM region_info WHERE region_id = ?",
			now(), h.RegionID).Error
		if err != nil {
			return err
		}
		var failures []int
		if err := db.Raw("SELECT consecutive_failures FROM regiond_region_health WHERE region_id = ?", h.RegionID).Scan(&failures).Error; err != nil {
			return err
		}
		if len(failures) == 0 {
			return nil // the region is gone
		}
		after := failures[0] + 1
		if h.State == "healthy" {
			after = 0
		}
		q := db.Exec(writeResult, resultValues(ClaimedResult{ProbeResult: res, ConsecutiveFailures: after, NextProbeAt: next(after)})...)
		ok = q.RowsAffected == 1
		return q.Error
	})
	return ok, classify(err)
}

// HealthGauge is one region's health as the metrics show it.
type HealthGauge struct {
	RegionID                            string
	State                               string
	LatencyMS                           *int64
	SSLCACertNotAfter, CertFileNotAfter *time.Time
}

// HealthGauges reads the health of every region that has been probed, of every enterprise.
func (s *Store) HealthGauges(ctx context.Context) ([]HealthGauge, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	rows, err := s.reader(ctx).Raw("SELECT h.region_id, h.state, h.latency_ms, h.ssl_ca_cert_not_after, h.cert_file_not_after " +
		"FROM regiond_region_health h JOIN region_info r ON r.region_id = h.region_id WHERE h.checked_at IS NOT NULL ORDER BY h.region_id").Rows()
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []HealthGauge
	for rows.Next() {
		var g HealthGauge
		var latency sql.NullInt64
		var ca, cert storedTime
		if err := rows.Scan(&g.RegionID, &g.State, &latency, &ca, &cert); err != nil {
			return nil, classify(err)
		}
		if latency.Valid {
			g.LatencyMS = &latency.Int64
		}
		if ca.Valid && ca.Unreadable == "" {
			g.SSLCACertNotAfter = &ca.Time
		}
		if cert.Valid && cert.Unreadable == "" {
			g.CertFileNotAfter = &cert.Time
		}
		out = append(out, g)
	}
	return out, classify(rows.Err())
}

// addHealth puts a new region in the probe schedule, due at once, in the creation's transaction:
// the prober then never has to look for regions it does not know (AdoptRegions only catches those
// that a replica of an older version created).
func addHealth(tx *gorm.DB, regionID string, now time.Time) error {
	return tx.Exec("INSERT INTO regiond_region_health (region_id, next_probe_at) VALUES (?, ?)", regionID, now.UTC()).Error
}

// deleteHealth removes a deleted region's health row, in the deletion's transaction.
func deleteHealth(tx *gorm.DB, regionID string) error {
	return tx.Exec("DELETE FROM regiond_region_health WHERE region_id = ?", regionID).Error
}
