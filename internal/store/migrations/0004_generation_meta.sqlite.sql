-- See 0004_generation_meta.mysql.sql.
CREATE TABLE regiond_generation (
  enterprise_id VARCHAR(36) NOT NULL PRIMARY KEY,
  generation INTEGER NOT NULL
);
CREATE TABLE regiond_meta (
  name VARCHAR(64) NOT NULL PRIMARY KEY,
  value VARCHAR(1024) NOT NULL
);
