package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"syscall"
	"time"
)

// attempt records how far the /v2/health request got, so that a failure can be told apart by
// where it happened when its error alone does not say.
type attempt struct {
	https       bool
	customRoots bool
	clientLeaf  *x509.Certificate
	timeout     time.Duration
	// Set by session.get as the request passes each step.
	connected, handshook, answered bool
}

// classify maps the error of the /v2/health request to a reason and a detail; ctx is the probe's.
func (a *attempt) classify(ctx context.Context, err error) (Reason, string) {
	msg := err.Error()
	if u, ok := errors.AsType[*url.Error](err); ok {
		msg = u.Err.Error() // without the "Get <url>:" prefix
	}
	if d, ok := errors.AsType[*deniedError](err); ok {
		return ReasonDenied, d.Error()
	}
	if d, ok := errors.AsType[*net.DNSError](err); ok {
		return ReasonDNS, fmt.Sprintf("the host name %q does not resolve: %s", d.Name, d.Err)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return ReasonTimeout, "the probe was canceled before /v2/health answered"
		}
		return ReasonTimeout, fmt.Sprintf("/v2/health did not answer within %s", a.timeout)
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return ReasonRefused, msg
	}
	if !a.connected {
		// No connection was made for another reason (no route to host, network unreachable):
		// to the operator it is the same, the address does not take connections.
		return ReasonRefused, msg
	}
	if e, ok := errors.AsType[x509.UnknownAuthorityError](err); ok && e.Cert != nil {
		by := "ssl_ca_cert"
		if !a.customRoots {
			by = "a system root (the region has no ssl_ca_cert)"
		}
		return ReasonTLSUnknownAuthority, fmt.Sprintf("the server certificate %q is not signed by %s", e.Cert.Subject, by)
	}
	if e, ok := errors.AsType[x509.CertificateInvalidError](err); ok && e.Reason == x509.Expired && e.Cert != nil {
		// x509 says Expired for a certificate that is not valid yet, too: a clock apart.
		if time.Now().Before(e.Cert.NotBefore) {
			return ReasonTLSExpired, fmt.Sprintf("the server's certificate %q is not valid before %s (are the clocks apart?)", e.Cert.Subject, day(e.Cert.NotBefore))
		}
		return ReasonTLSExpired, fmt.Sprintf("the server's certificate %q expired on %s", e.Cert.Subject, day(e.Cert.NotAfter))
	}

	alert, alerted := remoteAlert(err)
	dropped := false
	switch {
	case alerted, a.https && !a.handshook:
		// The server's refusal of our client certificate surfaces here: in TLS 1.2 as an alert
		// during the handshake, in TLS 1.3 as an alert on the first read after it.
	case a.https && !a.answered:
		// In TLS 1.3 the client's handshake ends before the server has checked our certificate.
		// A server that refuses it without an alert, or whose alert is lost to the connection's
		// reset, just closes the connection: no error type says why, and this is by far the
		// likeliest cause, so it is a TLS failure.
		dropped = true
		msg = "the server closed the connection after the TLS handshake without answering: " + msg
	default:
		return ReasonHTTPStatus, "no valid HTTP answer from /v2/health: " + msg
	}
	aboutCertificate := alerted && (alert == alertBadCertificate || alert == alertCertificateExpired || alert == alertCertificateUnknown)
	if a.clientLeaf != nil && time.Now().After(a.clientLeaf.NotAfter) && (aboutCertificate || dropped) {
		return ReasonTLSExpired, fmt.Sprintf("our client certificate (cert_file) %q expired on %s; the server refused it: %s",
			a.clientLeaf.Subject, day(a.clientLeaf.NotAfter), msg)
	}
	if alerted && alert == alertCertificateExpired {
		return ReasonTLSExpired, "the server says a certificate we sent has expired: " + msg
	}
	return ReasonTLSHandshake, "TLS failed: " + msg
}

// TLS alerts a server sends about the client's certificate (RFC 8446, section 6.2); crypto/tls
// does not export their names.
const (
	alertBadCertificate     tls.AlertError = 42
	alertCertificateExpired tls.AlertError = 45
	alertCertificateUnknown tls.AlertError = 46
)

// remoteAlert returns the TLS alert the server sent, if it sent one. crypto/tls reports a
// received alert as a *net.OpError with Op "remote error" around its unexported alert type
// (tls.AlertError is returned only by QUIC connections), so the alert's number is read through
// its uint8 kind rather than from its text.
func remoteAlert(err error) (tls.AlertError, bool) {
	op, ok := errors.AsType[*net.OpError](err)
	if !ok || op.Op != "remote error" || op.Err == nil {
		return 0, false
	}
	v := reflect.ValueOf(op.Err)
	if v.Kind() != reflect.Uint8 {
		return 0, false
	}
	return tls.AlertError(v.Uint()), true
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }
