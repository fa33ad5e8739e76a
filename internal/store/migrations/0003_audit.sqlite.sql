-- See 0003_audit.mysql.sql.
CREATE TABLE regiond_audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time DATETIME NOT NULL,
  enterprise_id VARCHAR(36) NOT NULL,
  token_id VARCHAR(40) NOT NULL,
  operation VARCHAR(32) NOT NULL,
  target_id VARCHAR(40) NOT NULL,
  changed_fields VARCHAR(1024) NOT NULL,
  request_id VARCHAR(128) NOT NULL DEFAULT ''
);
CREATE INDEX regiond_audit_enterprise ON regiond_audit (enterprise_id, id);
