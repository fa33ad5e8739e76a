-- See 0001_region_info.mysql.sql: the same table for SQLite.
CREATE TABLE region_info (
  "ID" INTEGER PRIMARY KEY AUTOINCREMENT,
  region_id VARCHAR(36) NOT NULL,
  region_name VARCHAR(64) NOT NULL,
  region_alias VARCHAR(64) NOT NULL,
  region_type VARCHAR(64) NULL DEFAULT '[]',
  url VARCHAR(256) NOT NULL,
  wsurl VARCHAR(256) NOT NULL DEFAULT '',
  httpdomain VARCHAR(256) NOT NULL DEFAULT '',
  tcpdomain VARCHAR(256) NOT NULL DEFAULT '',
  token VARCHAR(255) NULL DEFAULT '',
  status VARCHAR(2) NOT NULL,
  create_time DATETIME NOT NULL,
  "desc" VARCHAR(200) NOT NULL DEFAULT '',
  scope VARCHAR(10) NOT NULL DEFAULT 'private',
  ssl_ca_cert TEXT NULL,
  cert_file TEXT NULL,
  key_file TEXT NULL,
  enterprise_id VARCHAR(36) NOT NULL DEFAULT '',
  key_file_key_id VARCHAR(32) NULL,
  version INTEGER NOT NULL DEFAULT 1,
  update_time DATETIME NOT NULL
);
CREATE UNIQUE INDEX region_info_region_id ON region_info (region_id);
CREATE UNIQUE INDEX region_info_enterprise_name ON region_info (enterprise_id, region_name);
CREATE INDEX region_info_enterprise_status ON region_info (enterprise_id, status, region_name);
