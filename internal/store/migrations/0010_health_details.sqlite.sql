-- See 0010_health_details.mysql.sql.
ALTER TABLE regiond_region_health ADD COLUMN details_at DATETIME NULL;
