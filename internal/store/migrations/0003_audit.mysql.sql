-- The audit trail: one row per write, committed in the same transaction as the write.
CREATE TABLE regiond_audit (
  id bigint NOT NULL AUTO_INCREMENT,
  time datetime(6) NOT NULL,
  enterprise_id varchar(36) NOT NULL,
  token_id varchar(40) NOT NULL,
  operation varchar(32) NOT NULL,
  target_id varchar(40) NOT NULL,
  changed_fields varchar(1024) NOT NULL,
  request_id varchar(128) NOT NULL DEFAULT '',
  PRIMARY KEY (id),
  KEY regiond_audit_enterprise (enterprise_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
