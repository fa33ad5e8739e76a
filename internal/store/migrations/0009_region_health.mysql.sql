-- regiond_region_health is what the background prober last saw of each region (region.Health),
-- one row per region_info row, keyed by region_id (ids compare byte for byte: see 0005). The row
-- is also the region's place in the probe schedule: it is due at next_probe_at, and a replica
-- probes it only after claiming it (claimed_by, claimed_until); a claim whose replica died is
-- taken over once claimed_until has passed. Deleting a region deletes its row; a row without a
-- region is never read. The cluster_* columns keep rbd-api's /v2/cluster answer of the last
-- healthy probe that gave one; *_not_after the earliest expiry of ssl_ca_cert and cert_file when
-- last probed, for the metrics.
CREATE TABLE regiond_region_health (
  region_id varchar(36) CHARACTER SET utf8mb4 COLLATE {{id_collation}} NOT NULL,
  state varchar(16) NOT NULL DEFAULT 'unknown',
  reason varchar(32) NOT NULL DEFAULT '',
  detail varchar(255) NOT NULL DEFAULT '',
  checked_at datetime(6) NULL,
  latency_ms bigint NULL,
  last_healthy_at datetime(6) NULL,
  consecutive_failures int NOT NULL DEFAULT 0,
  version varchar(64) NOT NULL DEFAULT '',
  cluster_cpu_total_cores double NULL,
  cluster_cpu_used_cores double NULL,
  cluster_memory_total_bytes double NULL,
  cluster_memory_used_bytes double NULL,
  cluster_disk_total_bytes double NULL,
  cluster_disk_used_bytes double NULL,
  ssl_ca_cert_not_after datetime(6) NULL,
  cert_file_not_after datetime(6) NULL,
  next_probe_at datetime(6) NOT NULL,
  claimed_by varchar(160) CHARACTER SET utf8mb4 COLLATE {{id_collation}} NULL,
  claimed_until datetime(6) NULL,
  PRIMARY KEY (region_id),
  KEY regiond_region_health_due (next_probe_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
-- Every region already stored is due at once.
INSERT INTO regiond_region_health (region_id, next_probe_at) SELECT region_id, UTC_TIMESTAMP(6) FROM region_info;
