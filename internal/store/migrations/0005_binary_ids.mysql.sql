-- Ids compare byte for byte, as on SQLite: enterprises, regions and tokens whose ids differ only
-- in letter case, accents or trailing spaces are different. {{id_collation}} is the server's
-- binary NO PAD collation (utf8mb4_nopad_bin on MariaDB, utf8mb4_0900_bin on MySQL): utf8mb4_bin
-- would still ignore trailing spaces. Converting a case-insensitive column to a binary one cannot
-- break a unique key, so this works on a database that already holds rows.
ALTER TABLE region_info
  MODIFY region_id varchar(36) CHARACTER SET utf8mb4 COLLATE {{id_collation}} NOT NULL,
  MODIFY enterprise_id varchar(36) CHARACTER SET utf8mb4 COLLATE {{id_collation}} NOT NULL DEFAULT '';
ALTER TABLE regiond_token
  MODIFY id varchar(40) CHARACTER SET utf8mb4 COLLATE {{id_collation}} NOT NULL,
  MODIFY enterprise_id varchar(36) CHARACTER SET utf8mb4 COLLATE {{id_collation}} NOT NULL,
  MODIFY created_by varchar(40) CHARACTER SET utf8mb4 COLLATE {{id_collation}} NOT NULL DEFAULT '';
ALTER TABLE regiond_audit
  MODIFY enterprise_id varchar(36) CHARACTER SET utf8mb4 COLLATE {{id_collation}} NOT NULL,
  MODIFY token_id varchar(40) CHARACTER SET utf8mb4 COLLATE {{id_collation}} NOT NULL,
  MODIFY target_id varchar(40) CHARACTER SET utf8mb4 COLLATE {{id_collation}} NOT NULL;
ALTER TABLE regiond_generation
  MODIFY enterprise_id varchar(36) CHARACTER SET utf8mb4 COLLATE {{id_collation}} NOT NULL;
