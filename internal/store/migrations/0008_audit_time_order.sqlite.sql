-- See 0008_audit_time_order.mysql.sql.
CREATE INDEX regiond_audit_enterprise_time ON regiond_audit (enterprise_id, time, id);
DROP INDEX regiond_audit_enterprise;
