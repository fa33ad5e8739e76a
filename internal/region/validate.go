package region

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// FieldError names one offending field of a region and says what is wrong with it.
type FieldError struct {
	Field, Message string
}

// Invalid is the error of a write whose region breaks the rules: one FieldError per field.
type Invalid []FieldError

func (e Invalid) Error() string {
	parts := make([]string, len(e))
	for i, f := range e {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid region: " + strings.Join(parts, "; ")
}

// Validate checks the rules the OpenAPI schema cannot express and returns one entry per
// offending field (nil when the region is valid). The schema has already checked types, enums,
// lengths and the region_name pattern.
func Validate(r Region) []FieldError {
	var errs []FieldError
	fail := func(field, msg string) { errs = append(errs, FieldError{Field: field, Message: msg}) }

	if msg := checkURL(r.URL, "http", "https"); msg != "" {
		fail("url", msg)
	}
	if r.WSURL != "" {
		if msg := checkURL(r.WSURL, "ws", "wss"); msg != "" {
			fail("wsurl", msg)
		}
	}
	if r.HTTPDomain != "" && !IsHost(r.HTTPDomain) {
		fail("httpdomain", "must be a host name (RFC 1123) or an IP address")
	}
	if r.TCPDomain != "" && !IsHost(r.TCPDomain) {
		fail("tcpdomain", "must be a host name (RFC 1123) or an IP address")
	}
	if r.SSLCACert != nil {
		if msg := checkCertificates(*r.SSLCACert); msg != "" {
			fail("ssl_ca_cert", msg)
		}
	}
	// Each of cert_file and key_file is checked on its own even when the other is missing, so that
	// one answer names every offending field.
	certMsg, keyMsg := "", ""
	if r.CertFile != nil {
		if certMsg = checkCertificates(*r.CertFile); certMsg != "" {
			fail("cert_file", certMsg)
		}
	}
	if r.KeyFile != nil {
		if keyMsg = checkKey(*r.KeyFile); keyMsg != "" {
			fail("key_file", keyMsg)
		}
	}
	switch {
	case r.CertFile != nil && r.KeyFile == nil:
		fail("key_file", "is required when cert_file is set")
	case r.CertFile == nil && r.KeyFile != nil:
		fail("cert_file", "is required when key_file is set")
	case r.CertFile != nil && r.KeyFile != nil && certMsg == "" && keyMsg == "":
		if _, err := tls.X509KeyPair([]byte(*r.CertFile), []byte(*r.KeyFile)); err != nil {
			fail("key_file", "does not match the certificate in cert_file")
		}
	}
	return errs
}

// maxCertificateWarnings bounds the warnings about one region: a bundle of thousands of expired
// certificates must not grow a response's headers, or an audit row, with it.
const maxCertificateWarnings = 10

// CertificateWarnings describes each certificate of ssl_ca_cert and cert_file that is not valid at
// now: expired, or not valid yet. These are not errors — a region keeps such certificates, and
// operators rotate them later — but whoever writes or reads the region should know that a client
// using them will fail. Material that does not parse is Validate's business: it gives no warning.
func CertificateWarnings(r Region, now time.Time) []string {
	var warnings []string
	more := 0
	for _, f := range []struct {
		name string
		pem  *string
	}{{"ssl_ca_cert", r.SSLCACert}, {"cert_file", r.CertFile}} {
		if f.pem == nil {
			continue
		}
		blocks, _ := pemBlocks(*f.pem)
		for _, b := range blocks {
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil || b.Type != "CERTIFICATE" {
				continue
			}
			var w string
			switch {
			case now.After(c.NotAfter):
				w = f.name + ": the certificate " + certificateName(c) + " expired on " + c.NotAfter.UTC().Format(time.RFC3339)
			case now.Before(c.NotBefore):
				w = f.name + ": the certificate " + certificateName(c) + " is not valid before " + c.NotBefore.UTC().Format(time.RFC3339)
			default:
				continue
			}
			if len(warnings) == maxCertificateWarnings {
				more++
				continue
			}
			warnings = append(warnings, w)
		}
	}
	if more > 0 {
		warnings = append(warnings, strconv.Itoa(more)+" more certificate(s) have expired or are not valid yet")
	}
	return warnings
}

// certificateName is how a warning names a certificate: its subject (CN=...), else its serial
// number, on one line of printable text of bounded length (it goes into a header).
func certificateName(c *x509.Certificate) string {
	name := c.Subject.String()
	if name == "" {
		name = "with serial number " + c.SerialNumber.String()
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(name, "?"))
	if runes := []rune(name); len(runes) > 200 {
		name = string(runes[:200]) + "..."
	}
	return name
}

// checkURL reports what is wrong with an absolute URL that must use one of schemes, or "".
func checkURL(raw string, schemes ...string) string {
	want := "must be an absolute " + strings.Join(schemes, " or ") + " URL with a host"
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return want
	}
	okScheme := false
	for _, s := range schemes {
		okScheme = okScheme || strings.EqualFold(u.Scheme, s)
	}
	if !okScheme {
		return want
	}
	if u.User != nil {
		return "must not carry credentials (user:password@)"
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "must not have a fragment (#...)"
	}
	if !IsHost(u.Hostname()) {
		return "has an invalid host " + strconv.Quote(u.Hostname())
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "has an invalid port " + strconv.Quote(p)
		}
	}
	return ""
}

// IsHost reports whether s is an IP address or a host name made of RFC 1123 labels.
func IsHost(s string) bool {
	if net.ParseIP(s) != nil {
		return true
	}
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// pemBlocks decodes every PEM block of s. It fails on text outside the blocks, so that a
// truncated or concatenated-with-garbage upload is not silently half-accepted. encoding/pem alone
// would not do: pem.Decode skips any text before a block, and skips a broken block to decode the
// next one, so each block is cut out here and must decode on its own.
func pemBlocks(s string) ([]*pem.Block, string) {
	const complete = "has text that is not a complete PEM block"
	rest := []byte(s)
	var blocks []*pem.Block
	for {
		rest = bytes.TrimLeft(rest, " \t\r\n")
		if len(rest) == 0 {
			break
		}
		if !bytes.HasPrefix(rest, []byte("-----BEGIN ")) {
			if len(blocks) == 0 && !bytes.Contains(rest, []byte("-----BEGIN ")) {
				return nil, "is not PEM: no -----BEGIN ...----- block found"
			}
			return nil, "has text outside its PEM blocks (only -----BEGIN ...----- to -----END ...----- blocks are accepted)"
		}
		// The block ends with the line of the first END marker, and holds no other BEGIN marker
		// (pem.Decode would skip a malformed BEGIN line to the next one).
		end := bytes.Index(rest, []byte("\n-----END "))
		if end < 0 {
			return nil, complete
		}
		end++
		if nl := bytes.IndexByte(rest[end:], '\n'); nl >= 0 {
			end += nl + 1
		} else {
			end = len(rest)
		}
		b, left := pem.Decode(rest[:end])
		if b == nil || len(bytes.TrimSpace(left)) != 0 || bytes.Contains(rest[:end], []byte("\n-----BEGIN ")) {
			return nil, complete
		}
		blocks = append(blocks, b)
		rest = rest[end:]
	}
	if len(blocks) == 0 {
		return nil, "is not PEM: no -----BEGIN ...----- block found"
	}
	return blocks, ""
}

func checkCertificates(s string) string {
	blocks, msg := pemBlocks(s)
	if msg != "" {
		return msg
	}
	for i, b := range blocks {
		if b.Type != "CERTIFICATE" {
			return "block " + strconv.Itoa(i+1) + " is " + strconv.Quote(b.Type) + ", not CERTIFICATE"
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return "block " + strconv.Itoa(i+1) + " is not a valid X.509 certificate"
		}
	}
	return ""
}

func checkKey(s string) string {
	blocks, msg := pemBlocks(s)
	if msg != "" {
		return msg
	}
	if len(blocks) != 1 {
		return "must hold exactly one PEM private key block"
	}
	b := blocks[0]
	if _, encrypted := b.Headers["Proc-Type"]; encrypted || b.Type == "ENCRYPTED PRIVATE KEY" {
		return "must not be encrypted with a passphrase"
	}
	var err error
	switch b.Type {
	case "PRIVATE KEY":
		_, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		_, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		_, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		return "block is " + strconv.Quote(b.Type) + ", not a private key"
	}
	if err != nil {
		return "is not a valid " + strings.ToLower(b.Type)
	}
	return ""
}
