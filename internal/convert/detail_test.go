package convert_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/regiond/regiond/internal/convert"
	"github.com/regiond/regiond/internal/region"
)

func f(v float64) *float64 { return &v }

var hz = region.Region{RegionID: "4b2e8f3a-9c1d-4e5f-8a7b-6c5d4e3f2a1b", RegionName: "rainbond-hz", RegionAlias: "Hangzhou",
	URL: "https://region-hz.example.com:8443", Status: region.StatusEnabled, Scope: region.ScopePrivate, Version: 3}

// A healthy region's cluster resources come out in the units Rainbond's console answers in
// RegionInfoR: CPU in cores, memory in MiB (rbd-api's cap_mem as it is), disk in GiB (cap_disk,
// bytes, divided by 1024³).
func TestExtendedHealthyInRainbondUnits(t *testing.T) {
	h := region.Health{RegionID: hz.RegionID, State: "healthy", Cluster: &region.ClusterResources{
		CPUTotalCores: f(16), CPUUsedCores: f(5.5),
		MemoryTotalBytes: f(65536 << 20), MemoryUsedBytes: f(20480 << 20),
		DiskTotalBytes: f(500 << 30), DiskUsedBytes: f(120.25 * (1 << 30)),
	}}
	got, err := json.Marshal(convert.Public.Extended(hz, h))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"health_status": "ok", "total_cpu": 16.0, "used_cpu": 5.5, "total_memory": 65536.0,
		"used_memory": 20480.0, "total_disk": 500.0, "used_disk": 120.25, "region_name": "rainbond-hz", "status": "1"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v (in %s)", k, m[k], v, got)
		}
	}
	if len(m) != 20 {
		t.Errorf("%d members, want RegionInfoResp's 13 and RegionInfoR's 7: %s", len(m), got)
	}
}

// Never probed, or probed without cluster figures: every member present, the numbers null.
func TestExtendedUnknownAndUnhealthy(t *testing.T) {
	for state, status := range map[string]string{"unknown": "unknown", "": "unknown", "unhealthy": "failure", "healthy": "ok"} {
		got, _ := json.Marshal(convert.Public.Extended(hz, region.Health{State: state}))
		s := string(got)
		if !strings.Contains(s, `"health_status":"`+status+`"`) {
			t.Errorf("state %q: %s, want health_status %q", state, s, status)
		}
		for _, k := range []string{"total_cpu", "used_cpu", "total_memory", "used_memory", "total_disk", "used_disk"} {
			if !strings.Contains(s, `"`+k+`":null`) {
				t.Errorf("state %q: %s has no %s: null", state, s, k)
			}
		}
	}
}

// Without extend_info the detail is exactly the region's 13 members, encoded as every other
// region response encodes them.
func TestDetailIsTheRegion(t *testing.T) {
	d, _ := json.Marshal(convert.Public.Detail(hz))
	r, _ := json.Marshal(convert.Public.Region(hz))
	if string(d) != string(r) {
		t.Errorf("detail %s\nregion %s", d, r)
	}
}

// The extended tag changes with the probed members and keeps the version a write's If-Match reads.
func TestExtendedETag(t *testing.T) {
	unknown := convert.Public.ExtendedETag(3, convert.Public.Extended(hz, region.Health{State: "unknown"}))
	healthy := convert.Public.ExtendedETag(3, convert.Public.Extended(hz, region.Health{State: "healthy"}))
	secrets := convert.Secrets.ExtendedETag(3, convert.Secrets.Extended(hz, region.Health{State: "healthy"}))
	if unknown == healthy || unknown == `"r3"` || !strings.HasPrefix(unknown, `"r3.h`) || !strings.HasPrefix(secrets, `"r3s.h`) {
		t.Errorf("tags %s %s %s", unknown, healthy, secrets)
	}
	for _, tag := range []string{unknown, secrets} {
		p, err := convert.Precondition(&tag, false)
		if err != nil || len(p.Versions) != 1 || p.Versions[0] != 3 {
			t.Errorf("If-Match %s: %+v %v, want version 3", tag, p, err)
		}
	}
}
