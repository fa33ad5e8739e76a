-- regiond_lease names the replica doing a job that only one may do at a time (audit pruning; the
-- region-health prober later): a lease is held by holder until expires_at, renewed while it works,
-- and taken over by another replica once it expires. Names and holders compare byte for byte
-- ({{id_collation}}: see 0005_binary_ids).
CREATE TABLE regiond_lease (
  name varchar(64) CHARACTER SET utf8mb4 COLLATE {{id_collation}} NOT NULL,
  holder varchar(128) CHARACTER SET utf8mb4 COLLATE {{id_collation}} NOT NULL,
  expires_at datetime(6) NOT NULL,
  PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
-- Audit retention deletes by age: without this index each batch would scan the table.
CREATE INDEX regiond_audit_time ON regiond_audit (time);
