package region_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/regiond/regiond/internal/region"
)

// label is one RFC 1123 label: letters, digits and inner hyphens, 1 to 63 characters.
const label = `[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?`

var hostName = regexp.MustCompile(`^` + label + `(\.` + label + `)*$`)

// refIsHost is IsHost written another way: an IP address, or a name of RFC 1123 labels of at
// most 253 characters.
func refIsHost(s string) bool {
	return net.ParseIP(s) != nil || len(s) <= 253 && hostName.MatchString(s)
}

func failed(errs []region.FieldError, field string) bool {
	return slices.ContainsFunc(errs, func(e region.FieldError) bool { return e.Field == field })
}

// checkFieldErrors: every error names a field of the region and says something.
func checkFieldErrors(t *testing.T, errs []region.FieldError) {
	t.Helper()
	for _, e := range errs {
		if !slices.Contains(region.Fields, e.Field) || e.Message == "" {
			t.Fatalf("malformed field error %+v", e)
		}
	}
}

// checkAcceptedURL asserts what Validate promises about a URL it accepts.
func checkAcceptedURL(t *testing.T, field, raw string, schemes ...string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s %q accepted, but net/url cannot parse it: %v", field, raw, err)
	}
	if !u.IsAbs() || u.Host == "" || u.Opaque != "" || !slices.ContainsFunc(schemes, func(s string) bool { return strings.EqualFold(u.Scheme, s) }) {
		t.Fatalf("%s %q accepted, but it is not an absolute %v URL with a host: %#v", field, raw, schemes, u)
	}
	if u.User != nil || u.Fragment != "" || strings.Contains(raw, "#") {
		t.Fatalf("%s %q accepted with credentials or a fragment", field, raw)
	}
	host := u.Hostname()
	if !refIsHost(host) {
		t.Fatalf("%s %q accepted with host %q, which is neither an IP address nor an RFC 1123 name", field, raw, host)
	}
	if strings.HasPrefix(u.Host, "[") && (net.ParseIP(host) == nil || !strings.Contains(host, ":")) {
		t.Fatalf("%s %q accepted with a bracketed host that is not an IPv6 address", field, raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			t.Fatalf("%s %q accepted with port %q", field, raw, p)
		}
	}
}

// FuzzValidate feeds arbitrary strings to the URL and host fields: Validate never panics, what it
// accepts is what it documents, and IsHost agrees with net.ParseIP and the RFC 1123 label rules.
func FuzzValidate(f *testing.F) {
	for _, s := range [][4]string{
		{"https://region.example.com:8443", "wss://region.example.com:6060", "apps.example.com", "10.0.3.17"},
		{"http://10.0.0.1", "", "", ""},
		{"HTTP://[::1]:80/path?q=1", "WS://[fe80::1]", "::1", "2001:db8::1"},
		{"http://[fe80::1%25eth0]/", "ws://a", "a-b.c", "-a.b"},
		{"https://user:pw@example.com", "wss://x#frag", "a..b", "a."},
		{"https://example.com:0", "ws://example.com:65536", "xn--bcher-kva.example", strings.Repeat("a", 64) + ".com"},
		{"https://exa_mple.com", "wss://example.com:+1", strings.Repeat("a.", 127) + "a", "1.2.3"},
		{"ftp://example.com", "http://example.com", "exämple.com", "1.2.3.4.5"},
		{"https:example.com", "//example.com", "", " "},
		{"https://%65xample.com/", "ws://[example.com]/", "[::1]", "0x7f.1"},
		{"https://example.com:", "ws://:80", "localhost", "127.1"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, rawURL, wsURL, httpDomain, tcpDomain string) {
		errs := region.Validate(region.Region{URL: rawURL, WSURL: wsURL, HTTPDomain: httpDomain, TCPDomain: tcpDomain})
		checkFieldErrors(t, errs)
		if !failed(errs, "url") {
			checkAcceptedURL(t, "url", rawURL, "http", "https")
		}
		if wsURL != "" && !failed(errs, "wsurl") {
			checkAcceptedURL(t, "wsurl", wsURL, "ws", "wss")
		}
		for _, d := range []struct{ field, value string }{{"httpdomain", httpDomain}, {"tcpdomain", tcpDomain}} {
			if got, want := region.IsHost(d.value), refIsHost(d.value); got != want {
				t.Fatalf("IsHost(%q) = %v, want %v", d.value, got, want)
			}
			if want := d.value != "" && !refIsHost(d.value); failed(errs, d.field) != want {
				t.Fatalf("%s %q: refused %v, want %v (%v)", d.field, d.value, failed(errs, d.field), want, errs)
			}
		}
	})
}

// outsideBlocks returns the first line of s that is neither blank nor part of a PEM block, as a
// line scanner (not encoding/pem) sees it.
func outsideBlocks(s string) (string, bool) {
	inside := false
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case inside:
			inside = !strings.HasPrefix(line, "-----END ")
		case line == "":
		case strings.HasPrefix(line, "-----BEGIN ") && strings.HasSuffix(line, "-----"):
			inside = true
		default:
			return line, true
		}
	}
	return "", false
}

func readPEM(f *testing.F, name string) string {
	b, err := os.ReadFile(filepath.Join("testdata", "pem", name))
	if err != nil {
		f.Fatal(err)
	}
	return string(b)
}

// FuzzPEM feeds arbitrary bytes to the TLS fields: Validate never panics; what it accepts parses
// (every certificate block with crypto/x509, a CA bundle into a pool), has no text outside its
// PEM blocks, and a key accepted with a certificate forms a tls.X509KeyPair with it.
func FuzzPEM(f *testing.F) {
	ecCert, ecKey, ecSEC1 := readPEM(f, "ec.crt"), readPEM(f, "ec-pkcs8.key"), readPEM(f, "ec-sec1.key")
	rsaCert, rsaKey := readPEM(f, "rsa.crt"), readPEM(f, "rsa-pkcs1.key")
	edCert, edKey := readPEM(f, "ed25519.crt"), readPEM(f, "ed25519.key")
	encrypted := readPEM(f, "ec-encrypted.key")
	const all = 7 // ssl_ca_cert, cert_file and key_file set
	for _, s := range []struct {
		set           uint8
		ca, cert, key string
	}{
		{all, ecCert, ecCert, ecKey},
		{all, ecCert + rsaCert + edCert, ecCert, ecSEC1},
		{all, rsaCert, rsaCert, rsaKey},
		{all, edCert, edCert, edKey},
		{all, "", ecCert, rsaKey},
		{all, "\n\n" + ecCert + "\n", ecCert + rsaCert, ecKey},
		{all, ecCert + "garbage", ecCert, ecKey + ecKey},
		{all, "garbage\n" + ecCert, "Bag Attributes\n" + ecCert, "subject=/CN=x\n" + ecKey},
		{all, ecKey, ecKey, ecCert},
		{all, ecCert, ecCert, encrypted},
		{all, ecCert, ecCert, strings.Replace(ecSEC1, "\n\n", "\nProc-Type: 4,ENCRYPTED\n\n", 1)},
		{all, ecCert[:len(ecCert)/2], ecCert, ecKey[:len(ecKey)-30]},
		{all, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}})), ecCert,
			string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x00}}))},
		{all, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", ecCert, "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"},
		{all, "-----BEGIN broken\n" + ecCert, ecCert, "-----BEGIN PRIVATE KEY-----\nAAAA\n" + ecKey},
		{all, ecCert + "\n-----END CERTIFICATE-----\n", strings.ReplaceAll(ecCert, "\n", "\r\n"), "  \t" + ecKey + "\n\n"},
		{1, ecCert, "", ""},
		{2, "", ecCert, ""},
		{4, "", "", ecKey},
	} {
		f.Add(s.set, []byte(s.ca), []byte(s.cert), []byte(s.key))
	}
	f.Fuzz(func(t *testing.T, set uint8, ca, cert, key []byte) {
		var r region.Region
		var caS, certS, keyS = string(ca), string(cert), string(key)
		if set&1 != 0 {
			r.SSLCACert = &caS
		}
		if set&2 != 0 {
			r.CertFile = &certS
		}
		if set&4 != 0 {
			r.KeyFile = &keyS
		}
		r.URL = "https://region.example.com"
		errs := region.Validate(r)
		checkFieldErrors(t, errs)
		if failed(errs, "url") {
			t.Fatalf("a valid url refused: %v", errs)
		}
		for _, fld := range []struct {
			name string
			v    *string
		}{{"ssl_ca_cert", r.SSLCACert}, {"cert_file", r.CertFile}, {"key_file", r.KeyFile}} {
			if fld.v == nil || failed(errs, fld.name) {
				continue
			}
			if line, ok := outsideBlocks(*fld.v); ok {
				t.Fatalf("%s accepted with text outside its PEM blocks: %q", fld.name, line)
			}
		}
		if r.SSLCACert != nil && !failed(errs, "ssl_ca_cert") {
			checkCertificates(t, "ssl_ca_cert", ca)
			if !x509.NewCertPool().AppendCertsFromPEM(ca) {
				t.Fatalf("ssl_ca_cert accepted, but it does not load into a certificate pool")
			}
		}
		switch {
		case r.CertFile != nil && r.KeyFile == nil:
			if !failed(errs, "key_file") {
				t.Fatal("cert_file accepted without key_file")
			}
		case r.CertFile == nil && r.KeyFile != nil:
			if !failed(errs, "cert_file") {
				t.Fatal("key_file accepted without cert_file")
			}
		case r.CertFile != nil && r.KeyFile != nil:
			if !failed(errs, "cert_file") {
				checkCertificates(t, "cert_file", cert)
			}
			if !failed(errs, "cert_file") && !failed(errs, "key_file") {
				if _, err := tls.X509KeyPair(cert, key); err != nil {
					t.Fatalf("cert_file and key_file accepted, but they do not form a key pair: %v", err)
				}
				if b, _ := pem.Decode(key); b == nil || b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "" {
					t.Fatal("an encrypted key_file accepted")
				}
			}
		}
	})
}

// checkCertificates: an accepted certificate field holds only CERTIFICATE blocks that parse.
func checkCertificates(t *testing.T, field string, data []byte) {
	t.Helper()
	rest := data
	n := 0
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		n++
		if b.Type != "CERTIFICATE" {
			t.Fatalf("%s accepted with a %q block", field, b.Type)
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			t.Fatalf("%s accepted with a certificate that does not parse: %v", field, err)
		}
	}
	if n == 0 || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("%s accepted, but it is not only PEM certificates", field)
	}
}
