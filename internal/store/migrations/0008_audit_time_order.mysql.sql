-- The audit trail lists newest first by (time, id), not by id alone: on Galera each node hands out
-- AUTO_INCREMENT values of its own series (1, 4, 7... and 2, 5, 8...), so ids are not in time
-- order. This index serves that order and its page cursor; the one by (enterprise_id, id) serves
-- nothing any more.
CREATE INDEX regiond_audit_enterprise_time ON regiond_audit (enterprise_id, time, id);
DROP INDEX regiond_audit_enterprise ON regiond_audit;
