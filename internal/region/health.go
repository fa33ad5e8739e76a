package region

import "time"

// Health is what the background prober last saw of a region's API (Rainbond's rbd-api). A region
// never probed has State "unknown" and nothing else set. Health never changes a region's Status:
// the status is the operator's decision, health is an observation.
type Health struct {
	RegionID string
	// State is "healthy", "unhealthy" or "unknown" (never probed yet).
	State string
	// Reason is one of the documented reasons when State is "unhealthy", empty otherwise.
	Reason string
	// Detail is a short, cleaned explanation for people.
	Detail              string
	CheckedAt           *time.Time
	LatencyMS           *int64
	LastHealthyAt       *time.Time
	ConsecutiveFailures int
	// Version is rbd-api's version from /v2/version, empty when it did not say.
	Version string
	// Cluster is what rbd-api's /v2/cluster reported at the last healthy probe, nil when it did
	// not answer in rbd-api's shape or the region was never probed healthy.
	Cluster *ClusterResources
}

// ClusterResources are a cluster's capacity and use as rbd-api reports them on GET /v2/cluster.
// A member is nil when the answer did not carry it.
type ClusterResources struct {
	CPUTotalCores    *float64
	CPUUsedCores     *float64
	MemoryTotalBytes *float64
	MemoryUsedBytes  *float64
	DiskTotalBytes   *float64
	DiskUsedBytes    *float64
}
