package convert

import (
	"strconv"

	"github.com/oapi-codegen/nullable"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/etag"
	"github.com/regiond/regiond/internal/region"
)

// Detail is a region as the detail call answers it without extend_info: exactly the 13 members of
// Region, none of RegionInfoR's seven (their fields stay unset, so they are not encoded).
func (v View) Detail(r region.Region) api.RegionInfoR {
	b := v.Region(r)
	return api.RegionInfoR{
		RegionId: b.RegionId, RegionName: b.RegionName, RegionAlias: b.RegionAlias, Url: b.Url, Wsurl: b.Wsurl,
		Httpdomain: b.Httpdomain, Tcpdomain: b.Tcpdomain, Status: b.Status, Desc: b.Desc, Scope: b.Scope,
		SslCaCert: b.SslCaCert, CertFile: b.CertFile, KeyFile: b.KeyFile,
	}
}

// healthStatus is Rainbond's word for a probe state: its console says "ok" when the region's API
// answered and "failure" when it did not. Rainbond has no word for never probed; regiond says
// "unknown".
var healthStatus = map[string]api.RegionInfoRHealthStatus{
	"healthy":   api.RegionHealthOk,
	"unhealthy": api.RegionHealthFailure,
}

// Units of Rainbond's RegionInfoR: its console passes rbd-api's cap_mem/req_mem on as they are
// (MiB) and divides cap_disk/req_disk (bytes) by 1024³; CPU is in cores throughout.
const (
	mib = 1 << 20
	gib = 1 << 30
)

// Extended is the detail with extend_info=true: the region and Rainbond's RegionInfoR members,
// from what the health prober last stored (h). All seven are always present: a region never
// probed is "unknown", and a resource the prober has no value for is null.
func (v View) Extended(r region.Region, h region.Health) api.RegionInfoR {
	d := v.Detail(r)
	st, ok := healthStatus[h.State]
	if !ok {
		st = api.RegionHealthUnknown
	}
	d.HealthStatus = &st
	var c region.ClusterResources
	if h.Cluster != nil {
		c = *h.Cluster
	}
	d.TotalCpu, d.UsedCpu = inUnits(c.CPUTotalCores, 1), inUnits(c.CPUUsedCores, 1)
	d.TotalMemory, d.UsedMemory = inUnits(c.MemoryTotalBytes, mib), inUnits(c.MemoryUsedBytes, mib)
	d.TotalDisk, d.UsedDisk = inUnits(c.DiskTotalBytes, gib), inUnits(c.DiskUsedBytes, gib)
	return d
}

// inUnits is *p divided by unit, or an explicit null.
func inUnits(p *float64, unit float64) nullable.Nullable[float64] {
	if p == nil {
		return nullable.NewNullNullable[float64]()
	}
	return nullable.NewNullableWithValue(*p / unit)
}

// ExtendedETag is the tag of an extended detail: the region's tag for the view, and a hash of
// the probed members, which change without the region's version ("r3.hXXXX", "r3s.hXXXX"). A
// write's If-Match reads only the version in it (regionVersion).
func (v View) ExtendedETag(version int64, d api.RegionInfoR) string {
	t := v.ETag(version)
	return t[:len(t)-1] + ".h" + etag.Hash(string(*d.HealthStatus), number(d.TotalCpu), number(d.UsedCpu),
		number(d.TotalMemory), number(d.UsedMemory), number(d.TotalDisk), number(d.UsedDisk)) + `"`
}

// number is a nullable number as text, "null" for null.
func number(n nullable.Nullable[float64]) string {
	v, err := n.Get()
	if err != nil {
		return "null"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
