-- details_at is when the prober last read a region's /v2/version and /v2/cluster (the version and
-- cluster_* columns). A probe reads them only when they are older than the prober's details
-- interval: at a short probe interval, asking three things of every region every time tripled
-- the prober's cost for figures that change rarely. NULL: never read, so the next healthy probe
-- reads them.
ALTER TABLE regiond_region_health ADD COLUMN details_at datetime(6) NULL;
