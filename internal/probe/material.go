package probe

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultCertWarnDays is the usual warning window of Certificates: 30 days.
const DefaultCertWarnDays = 30

// CertInfo describes one certificate of a region's ssl_ca_cert or cert_file.
type CertInfo struct {
	// Field is the region field the certificate comes from: "ssl_ca_cert" or "cert_file".
	Field    string    `json:"field"`
	Subject  string    `json:"subject"`
	NotAfter time.Time `json:"not_after"`
	// ExpiresInDays is the whole days left until NotAfter, rounded down: -1 the day after expiry.
	ExpiresInDays int `json:"expires_in_days"`
	// ExpiringSoon is true when the certificate expires within the warning window, or has expired.
	ExpiringSoon bool `json:"expiring_soon"`
}

// Certificates lists every certificate of the target's ssl_ca_cert then cert_file, in their
// order, as of now. It reads no network, and skips what does not parse: Probe reports that.
func Certificates(t Target, warnDays int, now time.Time) []CertInfo {
	var out []CertInfo
	for _, f := range []struct{ name, pem string }{{"ssl_ca_cert", t.SSLCACert}, {"cert_file", t.CertFile}} {
		certs, _ := pemCertificates(f.pem)
		for _, c := range certs {
			secs := c.NotAfter.Unix() - now.Unix()
			days := secs / 86400
			if secs < 0 && secs%86400 != 0 {
				days--
			}
			out = append(out, CertInfo{
				Field:         f.name,
				Subject:       c.Subject.String(),
				NotAfter:      c.NotAfter.UTC(),
				ExpiresInDays: int(days),
				ExpiringSoon:  c.NotAfter.Before(now.AddDate(0, 0, warnDays)),
			})
		}
	}
	return out
}

// material is a region's TLS material, parsed for a probe.
type material struct {
	roots      *x509.CertPool // nil: the system roots
	client     *tls.Certificate
	clientLeaf *x509.Certificate
}

// loadMaterial parses the target's PEM fields; its errors name the field and never quote it.
func loadMaterial(t Target) (material, error) {
	var m material
	if strings.TrimSpace(t.SSLCACert) != "" {
		certs, err := strictCertificates(t.SSLCACert)
		if err != nil {
			return m, fmt.Errorf("ssl_ca_cert: %w", err)
		}
		m.roots = x509.NewCertPool()
		for _, c := range certs {
			m.roots.AddCert(c)
		}
	}
	hasCert, hasKey := strings.TrimSpace(t.CertFile) != "", strings.TrimSpace(t.KeyFile) != ""
	switch {
	case hasCert && !hasKey:
		return m, errors.New("key_file: missing, but cert_file is set")
	case !hasCert && hasKey:
		return m, errors.New("cert_file: missing, but key_file is set")
	case hasCert:
		certs, err := strictCertificates(t.CertFile)
		if err != nil {
			return m, fmt.Errorf("cert_file: %w", err)
		}
		pair, err := tls.X509KeyPair([]byte(t.CertFile), []byte(t.KeyFile))
		if err != nil {
			// crypto/tls's messages name the problem (no PEM, unparsable, does not match the
			// public key) and never quote the key.
			return m, errors.New("key_file: " + strings.TrimPrefix(err.Error(), "tls: "))
		}
		m.client, m.clientLeaf = &pair, certs[0]
	}
	return m, nil
}

// tlsConfig trusts only ssl_ca_cert when the region has one, and the system roots otherwise (a
// region API behind a publicly trusted certificate needs no ssl_ca_cert).
func (m material) tlsConfig() *tls.Config {
	cfg := &tls.Config{RootCAs: m.roots, MinVersion: tls.VersionTLS12}
	if m.client != nil {
		// Always send the region's client certificate: crypto/tls would otherwise send none when
		// the server's list of acceptable CAs does not name its issuer, and the server's refusal
		// says more than our guess.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return m.client, nil }
	}
	return cfg
}

// pemCertificates parses every CERTIFICATE block of s; bad counts the blocks that do not parse.
func pemCertificates(s string) (certs []*x509.Certificate, bad int) {
	rest := []byte(s)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return certs, bad
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			certs = append(certs, c)
		} else {
			bad++
		}
	}
}

// strictCertificates is pemCertificates for a probe: a field with a broken certificate, or none,
// cannot be used.
func strictCertificates(s string) ([]*x509.Certificate, error) {
	certs, bad := pemCertificates(s)
	switch {
	case bad > 0:
		return nil, fmt.Errorf("%d of its certificates do not parse", bad)
	case len(certs) == 0:
		return nil, errors.New("holds no PEM certificate")
	}
	return certs, nil
}
