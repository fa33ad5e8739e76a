-- See 0007_audit_warnings.mysql.sql.
ALTER TABLE regiond_audit ADD COLUMN warnings TEXT NULL;
