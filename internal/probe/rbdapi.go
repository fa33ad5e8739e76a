package probe

import (
	"encoding/json"
	"mime"
	"strings"
	"unicode"
)

// maxVersionLen bounds the version string kept from /v2/version, in runes.
const maxVersionLen = 64

// ClusterResources are the capacity and use rbd-api reports on GET /v2/cluster (its
// model.ClusterResource, in go-chi render's {"bean": ...} envelope). A member is nil when the
// answer does not carry it as a non-negative number.
type ClusterResources struct {
	// CPUTotalCores is cap_cpu: the allocatable CPU of the cluster's schedulable nodes, in cores.
	CPUTotalCores *float64 `json:"cpu_total_cores,omitempty"`
	// CPUUsedCores is req_cpu: the CPU the cluster's pods request, in cores.
	CPUUsedCores *float64 `json:"cpu_used_cores,omitempty"`
	// MemoryTotalBytes is cap_mem, which rbd-api reports in MiB.
	MemoryTotalBytes *float64 `json:"memory_total_bytes,omitempty"`
	// MemoryUsedBytes is req_mem (the memory pods request), which rbd-api reports in MiB.
	MemoryUsedBytes *float64 `json:"memory_used_bytes,omitempty"`
	// DiskTotalBytes is cap_disk: the size of the region's shared storage (/grdata).
	DiskTotalBytes *float64 `json:"disk_total_bytes,omitempty"`
	// DiskUsedBytes is req_disk: the space used on it.
	DiskUsedBytes *float64 `json:"disk_used_bytes,omitempty"`
}

// parseCluster reads rbd-api's /v2/cluster answer; nil when it carries none of the members.
func parseCluster(body []byte) *ClusterResources {
	var envelope struct {
		Bean map[string]json.RawMessage `json:"bean"`
	}
	if json.Unmarshal(body, &envelope) != nil {
		return nil
	}
	number := func(key string, scale float64) *float64 {
		var v float64
		if json.Unmarshal(envelope.Bean[key], &v) != nil || v < 0 {
			return nil
		}
		v *= scale
		return &v
	}
	const mib = 1 << 20
	c := ClusterResources{
		CPUTotalCores:    number("cap_cpu", 1),
		CPUUsedCores:     number("req_cpu", 1),
		MemoryTotalBytes: number("cap_mem", mib),
		MemoryUsedBytes:  number("req_mem", mib),
		DiskTotalBytes:   number("cap_disk", 1),
		DiskUsedBytes:    number("req_disk", 1),
	}
	if c == (ClusterResources{}) {
		return nil
	}
	return &c
}

// parseVersion reads rbd-api's /v2/version answer, {"bean":{"version":"..."}}, also accepting a
// bare {"version":"..."} or a text/plain version; "" for anything else.
func parseVersion(contentType string, body []byte) string {
	media, _, _ := mime.ParseMediaType(contentType)
	var version string
	switch {
	case media == "application/json" || strings.HasPrefix(strings.TrimSpace(string(body)), "{"):
		var v struct {
			Version string `json:"version"`
			Bean    struct {
				Version string `json:"version"`
			} `json:"bean"`
		}
		if json.Unmarshal(body, &v) != nil {
			return ""
		}
		version = v.Bean.Version
		if version == "" {
			version = v.Version
		}
	case media == "text/plain" || media == "":
		version = string(body)
	}
	return clean(version, maxVersionLen)
}

// clean makes s safe to show: valid UTF-8, printable characters only, each run of white space
// one space, trimmed, and at most max runes (the last one "…" when cut).
func clean(s string, max int) string {
	out := make([]rune, 0, min(len(s), max+1))
	space := false
	for _, r := range strings.ToValidUTF8(s, "") {
		if len(out) > max {
			break
		}
		switch {
		case unicode.IsSpace(r):
			space = len(out) > 0
		case unicode.IsPrint(r):
			if space {
				out = append(out, ' ')
				space = false
			}
			out = append(out, r)
		}
	}
	if len(out) > max {
		out = append(out[:max-1], '…')
	}
	return string(out)
}
