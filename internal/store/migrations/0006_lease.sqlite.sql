-- See 0006_lease.mysql.sql.
CREATE TABLE regiond_lease (
  name VARCHAR(64) NOT NULL PRIMARY KEY,
  holder VARCHAR(128) NOT NULL,
  expires_at DATETIME NOT NULL
);
CREATE INDEX regiond_audit_time ON regiond_audit (time);
