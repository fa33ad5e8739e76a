package probe

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseVersion(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ contentType, body, want string }{
		{"application/json", `{"bean":{"version":"v5.17.3-release"}}`, "v5.17.3-release"},
		{"application/json", `{"version":"v6.0.0"}`, "v6.0.0"},
		{"text/plain; charset=utf-8", "  v5.8.1-release\n", "v5.8.1-release"},
		{"", "v5.8.1\x1b[0m\x00", "v5.8.1[0m"},
		{"application/json", `{"bean":{"status":"ok"}}`, ""},
		{"application/json", `{"bean":`, ""},
		{"text/html", "<html>hello</html>", ""},
		{"text/plain", strings.Repeat("9", 500), strings.Repeat("9", maxVersionLen-1) + "…"},
	} {
		if got := parseVersion(c.contentType, []byte(c.body)); got != c.want {
			t.Errorf("parseVersion(%q, %q) = %q, want %q", c.contentType, c.body, got, c.want)
		}
	}
}

func TestParseClusterKeepsUnknownShapesAbsent(t *testing.T) {
	t.Parallel()
	c := parseCluster([]byte(`{"bean":{"cap_cpu":8,"req_cpu":"2","cap_mem":-1,"req_disk":1024}}`))
	if c == nil || c.CPUTotalCores == nil || *c.CPUTotalCores != 8 || c.CPUUsedCores != nil ||
		c.MemoryTotalBytes != nil || c.DiskUsedBytes == nil || *c.DiskUsedBytes != 1024 {
		t.Fatalf("got %+v", c)
	}
	for _, body := range []string{``, `[]`, `{"bean":null}`, `{"bean":{"k8s_version":"v1.30"}}`, `{"cap_cpu":8}`, `<html>`} {
		if c := parseCluster([]byte(body)); c != nil {
			t.Errorf("parseCluster(%q) = %+v, want nil", body, c)
		}
	}
}

func TestClean(t *testing.T) {
	t.Parallel()
	got := clean("a\x00b\n\n\tc  d \xff\u200be"+strings.Repeat("x", 300), 20)
	if got != "ab c d e"+strings.Repeat("x", 11)+"…" || utf8.RuneCountInString(got) != 20 {
		t.Fatalf("clean = %q", got)
	}
}
