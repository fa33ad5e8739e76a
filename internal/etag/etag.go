// Package etag makes and reads entity tags: the one hash that condenses what a tag, or a page
// token's query, stands for, and the one parser of If-Match and If-None-Match.
package etag

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// Hash condenses parts into 16 URL-safe characters (96 bits of SHA-256). Each part is ended with
// a NUL, so that ("ab", "c") and ("a", "bc") differ.
func Hash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
}

// Tags splits an If-Match or If-None-Match value into its entity tags; "*" stands alone.
func Tags(header string) []string {
	var out []string
	for _, t := range strings.Split(header, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// NoneMatch reports whether an If-None-Match value holds the current tag, or "*" (weak
// comparison, RFC 9110 13.1.2: a proxy that compresses may have weakened the tag).
func NoneMatch(header, current string) bool {
	for _, t := range Tags(header) {
		if t == "*" || strings.TrimPrefix(t, "W/") == current {
			return true
		}
	}
	return false
}
