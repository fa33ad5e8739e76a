-- Rainbond console's region_info table, with its column names and limits, plus the columns
-- regiond needs: key_file_key_id (the key that encrypted key_file), version (entity tags and
-- conditional writes) and update_time. region_name is compared byte-wise so that its order
-- and uniqueness are the same on every backend.
CREATE TABLE region_info (
  `ID` int NOT NULL AUTO_INCREMENT,
  region_id varchar(36) NOT NULL,
  region_name varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  region_alias varchar(64) NOT NULL,
  region_type varchar(64) NULL DEFAULT '[]',
  url varchar(256) NOT NULL,
  wsurl varchar(256) NOT NULL DEFAULT '',
  httpdomain varchar(256) NOT NULL DEFAULT '',
  tcpdomain varchar(256) NOT NULL DEFAULT '',
  token varchar(255) NULL DEFAULT '',
  status varchar(2) NOT NULL,
  create_time datetime(6) NOT NULL,
  `desc` varchar(200) NOT NULL DEFAULT '',
  scope varchar(10) NOT NULL DEFAULT 'private',
  ssl_ca_cert longtext NULL,
  cert_file longtext NULL,
  key_file longtext NULL,
  enterprise_id varchar(36) NOT NULL DEFAULT '',
  key_file_key_id varchar(32) NULL,
  version bigint NOT NULL DEFAULT 1,
  update_time datetime(6) NOT NULL,
  PRIMARY KEY (`ID`),
  UNIQUE KEY region_info_region_id (region_id),
  UNIQUE KEY region_info_enterprise_name (enterprise_id, region_name),
  KEY region_info_enterprise_status (enterprise_id, status, region_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
