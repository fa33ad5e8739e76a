package region_test

import (
	"strings"
	"testing"
	"time"

	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/testsupport/testpki"
)

// TestCertificateWarningsAreBounded: a bundle of many expired certificates gives a bounded number
// of warnings, the last counting the rest; a subject with control characters or a huge name gives
// one printable line of bounded length (a warning goes into a header); material that does not
// parse gives no warning (Validate reports it).
func TestCertificateWarningsAreBounded(t *testing.T) {
	now := time.Now()
	var bundle strings.Builder
	for i := 0; i < 25; i++ {
		c, _ := testpki.PairValid(t, "old", now.Add(-48*time.Hour), now.Add(-24*time.Hour))
		bundle.WriteString(c)
	}
	b := bundle.String()
	w := region.CertificateWarnings(region.Region{SSLCACert: &b}, now)
	if len(w) != 11 || w[10] != "15 more certificate(s) have expired or are not valid yet" {
		t.Fatalf("%d warnings, last %q", len(w), w[len(w)-1])
	}

	odd, _ := testpki.PairValid(t, "line\nbreak\x00"+strings.Repeat("x", 1000), now.Add(time.Hour), now.Add(2*time.Hour))
	w = region.CertificateWarnings(region.Region{CertFile: &odd}, now)
	if len(w) != 1 || strings.ContainsAny(w[0], "\n\x00") || len(w[0]) > 300 || !strings.HasPrefix(w[0], "cert_file: the certificate CN=line?break?xxx") {
		t.Fatalf("odd subject: %q", w)
	}

	garbage := "not PEM"
	if w := region.CertificateWarnings(region.Region{SSLCACert: &garbage, CertFile: &garbage}, now); w != nil {
		t.Fatalf("garbage: %q", w)
	}
}
