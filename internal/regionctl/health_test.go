package regionctl_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"testing"

	"github.com/regiond/regiond/internal/server"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/rbdapi"
)

// TestHealth: regionctl health --now REGION probes a region (by name or id) and prints it in
// full; regionctl health prints a table of every region with its state, reason, latency and the
// days until its first certificate expires; -o json prints the API's objects.
func TestHealth(t *testing.T) {
	h := start(t, apitest.Options{Server: func(c *server.Config) { c.ProbeDenyCIDRs = "none" }})
	pki := rbdapi.NewPKI(t)
	good := rbdapi.Start(t, pki)
	for _, r := range []map[string]any{
		{"region_name": "hc-good", "region_alias": "Good", "url": good.URL,
			"ssl_ca_cert": pki.ServerCA.CertPEM, "cert_file": pki.Client.CertPEM, "key_file": pki.Client.KeyPEM},
		{"region_name": "hc-closed", "region_alias": "Closed", "url": rbdapi.ClosedURL(t, "https")},
		{"region_name": "hc-never", "region_alias": "Never", "url": "https://hc-never.example.com"},
	} {
		b, _ := json.Marshal(r)
		if resp, body := h.e.Do("POST", "/openapi/v1/regions", h.e.Admin, "application/json", b); resp.StatusCode != http.StatusCreated {
			t.Fatalf("create: %d %s", resp.StatusCode, body)
		}
	}
	out := h.ok("health", "--now", "hc-good").stdout
	// 90 days from the certificate's making, as of a moment later: 89 or 90 whole days.
	for _, want := range []string{`state:\s+healthy`, `version:\s+v5\.17\.3-release`, `ssl_ca_cert\s+CN=region server CA`, `cert_file\s+CN=regiond\s+\S+\s+(89|90)d`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Fatalf("health --now hc-good lacks %q:\n%s", want, out)
		}
	}
	h.ok("health", "--now", "hc-closed")

	out = h.ok("health").stdout
	for _, want := range []string{
		`(?m)^NAME\s+STATE\s+REASON\s+LATENCY\s+CERT_EXPIRES_IN$`,
		`(?m)^hc-closed\s+unhealthy\s+refused\s+\d+ms\s+-$`,
		`(?m)^hc-good\s+healthy\s+-\s+\d+ms\s+(89|90)d$`,
		`(?m)^hc-never\s+unknown\s+-\s+-\s+-$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Fatalf("regionctl health: no line matching %s:\n%s", want, out)
		}
	}
	var all []map[string]any
	if err := json.Unmarshal([]byte(h.ok("health", "-o", "json").stdout), &all); err != nil || len(all) != 3 || all[1]["state"] != "healthy" {
		t.Fatalf("health -o json: %v %+v", err, all)
	}
	h.fails(1, []string{"404"}, "health", "no-such-region")
	h.fails(2, []string{"--now probes one region"}, "health", "--now")
	if n := good.Probes.Load(); n != 1 {
		t.Fatalf("the healthy region was probed %d times, want once (--now)", n)
	}
}
