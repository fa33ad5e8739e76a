package server

import (
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"

	"github.com/regiond/regiond/internal/problem"
	"github.com/regiond/regiond/internal/store"
)

// Entity tags. A region's tag is its version, with a suffix for the representation that carries
// TLS material, so that each representation has its own strong tag: "r3", "r3s". A list's tag
// condenses the enterprise's generation, the representation and the query.

func regionETag(version int64, secrets bool) string {
	t := `"r` + strconv.FormatInt(version, 10)
	if secrets {
		t += "s"
	}
	return t + `"`
}

func listETag(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return `"l` + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12]) + `"`
}

// etags splits an If-Match or If-None-Match value into its entity tags; "*" stands alone.
func etags(header string) []string {
	var out []string
	for _, t := range strings.Split(header, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// noneMatch reports whether If-None-Match holds the current tag (weak comparison, RFC 9110).
func noneMatch(header *string, current string) bool {
	if header == nil {
		return false
	}
	for _, t := range etags(*header) {
		if t == "*" || strings.TrimPrefix(t, "W/") == current {
			return true
		}
	}
	return false
}

// versionCheck turns If-Match into the versions a write may proceed on. nil allows any version
// (no header, or "*": the region must merely exist). Weak tags never match (strong comparison),
// and a tag regiond did not make matches nothing: 412. Without the header, a server that
// requires it answers 428.
func (s *Server) versionCheck(ifMatch *string) (store.VersionCheck, error) {
	if ifMatch == nil {
		if s.cfg.RequireIfMatch {
			return nil, problem.New(428, "this server requires If-Match on writes; send the ETag you read")
		}
		return nil, nil
	}
	var versions []int64
	for _, t := range etags(*ifMatch) {
		if t == "*" {
			return nil, nil
		}
		if v, ok := parseRegionETag(t); ok {
			versions = append(versions, v)
		}
	}
	return func(v int64) bool { return slices.Contains(versions, v) }, nil
}

// parseRegionETag reads the version out of a strong region tag.
func parseRegionETag(t string) (int64, bool) {
	if len(t) < 4 || !strings.HasPrefix(t, `"r`) || !strings.HasSuffix(t, `"`) {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSuffix(t[2:len(t)-1], "s"), 10, 64)
	return v, err == nil && v > 0
}
