-- regiond_generation counts the writes of each enterprise's regions. Every write bumps it in its
-- own transaction, so a replica can tell that its cached list is stale with one cheap query.
-- regiond_meta holds server-wide values every replica must share (the page-token signing key).
CREATE TABLE regiond_generation (
  enterprise_id varchar(36) NOT NULL,
  generation bigint NOT NULL,
  PRIMARY KEY (enterprise_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE regiond_meta (
  name varchar(64) NOT NULL,
  value varchar(1024) NOT NULL,
  PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
