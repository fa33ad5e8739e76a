-- The warnings a write's response carried (an expired certificate...), one per line; NULL when none.
ALTER TABLE regiond_audit ADD COLUMN warnings text NULL;
