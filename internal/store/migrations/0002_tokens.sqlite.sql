-- See 0002_tokens.mysql.sql.
CREATE TABLE regiond_token (
  id VARCHAR(40) NOT NULL PRIMARY KEY,
  enterprise_id VARCHAR(36) NOT NULL,
  prefix VARCHAR(16) NOT NULL,
  hash CHAR(64) NOT NULL,
  scopes VARCHAR(255) NOT NULL,
  note VARCHAR(200) NOT NULL DEFAULT '',
  created_at DATETIME NOT NULL,
  expires_at DATETIME NULL,
  last_used_at DATETIME NULL,
  revoked_at DATETIME NULL,
  created_by VARCHAR(40) NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX regiond_token_hash ON regiond_token (hash);
CREATE INDEX regiond_token_enterprise_created ON regiond_token (enterprise_id, created_at, id);
