-- See 0009_region_health.mysql.sql.
CREATE TABLE regiond_region_health (
  region_id VARCHAR(36) NOT NULL PRIMARY KEY,
  state VARCHAR(16) NOT NULL DEFAULT 'unknown',
  reason VARCHAR(32) NOT NULL DEFAULT '',
  detail VARCHAR(255) NOT NULL DEFAULT '',
  checked_at DATETIME NULL,
  latency_ms INTEGER NULL,
  last_healthy_at DATETIME NULL,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  version VARCHAR(64) NOT NULL DEFAULT '',
  cluster_cpu_total_cores REAL NULL,
  cluster_cpu_used_cores REAL NULL,
  cluster_memory_total_bytes REAL NULL,
  cluster_memory_used_bytes REAL NULL,
  cluster_disk_total_bytes REAL NULL,
  cluster_disk_used_bytes REAL NULL,
  ssl_ca_cert_not_after DATETIME NULL,
  cert_file_not_after DATETIME NULL,
  next_probe_at DATETIME NOT NULL,
  claimed_by VARCHAR(160) NULL,
  claimed_until DATETIME NULL
);
CREATE INDEX regiond_region_health_due ON regiond_region_health (next_probe_at);
INSERT INTO regiond_region_health (region_id, next_probe_at) SELECT region_id, strftime('%Y-%m-%d %H:%M:%f+00:00', 'now') FROM region_info;
