-- API tokens. The secret value is never stored: hash is its SHA-256, prefix its first characters.
CREATE TABLE regiond_token (
  id varchar(40) NOT NULL,
  enterprise_id varchar(36) NOT NULL,
  prefix varchar(16) NOT NULL,
  hash char(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  scopes varchar(255) NOT NULL,
  note varchar(200) NOT NULL DEFAULT '',
  created_at datetime(6) NOT NULL,
  expires_at datetime(6) NULL,
  last_used_at datetime(6) NULL,
  revoked_at datetime(6) NULL,
  created_by varchar(40) NOT NULL DEFAULT '',
  PRIMARY KEY (id),
  UNIQUE KEY regiond_token_hash (hash),
  KEY regiond_token_enterprise_created (enterprise_id, created_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
