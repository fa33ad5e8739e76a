package probe_test

import (
	"testing"
	"time"

	"github.com/regiond/regiond/internal/probe"
	"github.com/regiond/regiond/internal/testsupport/testpki"
)

func TestCertificates(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ca := testpki.NewCA(t, "region server CA")
	other := testpki.NewCA(t, "second CA")
	soon := ca.Issue(t, "soon", now.Add(10*24*time.Hour+time.Hour))
	expired := ca.Issue(t, "expired", now.Add(-36*time.Hour))

	target := probe.Target{
		SSLCACert: ca.CertPEM + other.CertPEM,
		// A chain: every certificate of cert_file is reported, leaf first.
		CertFile: soon.CertPEM + expired.CertPEM,
		KeyFile:  soon.KeyPEM,
	}
	got := probe.Certificates(target, 30, now)
	if len(got) != 4 {
		t.Fatalf("got %d certificates, want 4: %+v", len(got), got)
	}
	for i, want := range []struct {
		field, subject string
		days           int // -1000: only check the sign through Expiring
		expiring       bool
	}{
		{"ssl_ca_cert", "CN=region server CA", -1000, false},
		{"ssl_ca_cert", "CN=second CA", -1000, false},
		{"cert_file", "CN=soon", 10, true},
		// 36 hours ago is day -2: expires_in_days is the floor.
		{"cert_file", "CN=expired", -2, true},
	} {
		c := got[i]
		if c.Field != want.field || c.Subject != want.subject || c.ExpiringSoon != want.expiring {
			t.Errorf("certificate %d = %+v, want field %s subject %s expiring %v", i, c, want.field, want.subject, want.expiring)
		}
		if want.days != -1000 && c.ExpiresInDays != want.days {
			t.Errorf("certificate %d (%s) expires_in_days = %d, want %d", i, c.Subject, c.ExpiresInDays, want.days)
		}
		if c.NotAfter.Location() != time.UTC {
			t.Errorf("certificate %d not_after %v is not UTC", i, c.NotAfter)
		}
	}
	if d := got[0].ExpiresInDays; d < 364 || d > 366 {
		t.Errorf("a CA valid for a year expires in %d days", d)
	}

	// A smaller window no longer flags the certificate that expires in 10 days.
	if got := probe.Certificates(target, 5, now); got[2].ExpiringSoon || !got[3].ExpiringSoon {
		t.Errorf("with a 5-day window: %+v", got)
	}
}

func TestCertificatesSkipsWhatDoesNotParse(t *testing.T) {
	t.Parallel()
	got := probe.Certificates(probe.Target{
		SSLCACert: "PEM lib",
		CertFile:  "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
	}, probe.DefaultCertWarnDays, time.Now())
	if len(got) != 0 {
		t.Fatalf("got %+v from unparsable PEM", got)
	}
}

// BenchmarkCertificates is what reading a region's certificates costs: a CA in ssl_ca_cert and a
// client certificate in cert_file (ECDSA P-256, as the tests' PKI makes them).
func BenchmarkCertificates(b *testing.B) {
	ca := testpki.NewCA(b, "region CA")
	client := ca.Issue(b, "regiond", time.Now().AddDate(0, 0, 90))
	target := probe.Target{SSLCACert: ca.CertPEM, CertFile: client.CertPEM, KeyFile: client.KeyPEM}
	for b.Loop() {
		if len(probe.Certificates(target, 30, time.Now())) != 2 {
			b.Fatal("want 2 certificates")
		}
	}
}
