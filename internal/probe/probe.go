// Package probe checks one region's API (Rainbond's rbd-api) the way the platform reaches it:
// over mutual TLS with the region's own ssl_ca_cert, cert_file and key_file, GET {url}/v2/health,
// then the optional GET {url}/v2/version and GET {url}/v2/cluster. It also reads the expiry of the
// region's certificates without touching the network.
//
// A probe is healthy when /v2/health answers 2xx. Otherwise it is unhealthy with exactly one
// reason:
//
//   - dns: the url's host name does not resolve.
//   - refused: the address refused the connection.
//   - timeout: the probe did not finish within its timeout (or its context ended).
//   - tls_unknown_authority: the server certificate is not signed by ssl_ca_cert (by the
//     system roots when ssl_ca_cert is empty).
//   - tls_expired: a certificate in the exchange has expired: the server's, or our own client
//     certificate (cert_file) that the server then refused.
//   - tls_handshake: any other TLS failure, e.g. the server refuses our client certificate.
//   - http_status: /v2/health answered something other than 2xx (a redirect included: it is
//     never followed), or no valid HTTP answer at all.
//   - invalid_material: the stored material cannot be used: ssl_ca_cert, cert_file or key_file
//     does not parse, key_file does not match cert_file, one of the pair is missing, or the url
//     is not an http(s) URL.
//   - denied: every address of the url's host is in the deny list.
//
// Reasons come from Go's typed errors wherever Go gives one. Two cases have none, and are
// documented where they are classified: the alert a server sends to refuse our client
// certificate, and, in TLS 1.3, a server that drops the connection after the handshake.
package probe

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"
)

// DefaultTimeout bounds a probe when Options.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Body limits: a region's answers are small, and a hostile or broken one must not make the
// prober read without end.
const (
	healthBodyLimit  = 4 << 10
	versionBodyLimit = 4 << 10
	clusterBodyLimit = 64 << 10
	headerLimit      = 16 << 10
	excerptLen       = 120
	detailLen        = 240
)

// State is a region's health state.
type State string

// The states. Probe returns only StateHealthy or StateUnhealthy; StateUnknown is for the caller,
// for a region that has not been probed yet.
const (
	StateHealthy   State = "healthy"
	StateUnhealthy State = "unhealthy"
	StateUnknown   State = "unknown"
)

// Reason says why a probe is unhealthy; the package documentation describes each.
type Reason string

// The reasons, exactly the documented set.
const (
	ReasonDNS                 Reason = "dns"
	ReasonRefused             Reason = "refused"
	ReasonTimeout             Reason = "timeout"
	ReasonTLSUnknownAuthority Reason = "tls_unknown_authority"
	ReasonTLSExpired          Reason = "tls_expired"
	ReasonTLSHandshake        Reason = "tls_handshake"
	ReasonHTTPStatus          Reason = "http_status"
	ReasonInvalidMaterial     Reason = "invalid_material"
	ReasonDenied              Reason = "denied"
)

// Target is the region to probe: its id, its API url and its TLS material as stored (PEM; an
// empty string is absent). The TLS material is used only for an https url.
type Target struct {
	RegionID  string
	URL       string
	SSLCACert string
	CertFile  string
	KeyFile   string
}

// Options tune a probe. The zero value probes with DefaultTimeout and DefaultDenyList.
type Options struct {
	// Timeout bounds the whole probe: connection, TLS, /v2/health and the optional calls.
	Timeout time.Duration
	// Deny lists the addresses never connected to. Nil means DefaultDenyList(); an empty,
	// non-nil list (ParseDenyList("none")) allows every address.
	Deny DenyList
	// SkipDetails leaves out /v2/version and /v2/cluster: the caller read them recently. A probe
	// is then one request instead of three.
	SkipDetails bool
	// Conns, when set, keeps the connection of a healthy probe for the region's next one, and a
	// probe with SkipDetails asks /v2/health on it instead of connecting again (see Conns).
	Conns *Conns
}

// Result is the outcome of one probe.
type Result struct {
	RegionID string `json:"region_id"`
	State    State  `json:"state"`
	// Reason is empty when the region is healthy.
	Reason Reason `json:"reason,omitempty"`
	// Detail is a short, printable explanation for people; it never holds more of the region's
	// answer than a short excerpt.
	Detail string `json:"detail,omitempty"`
	// LatencyMS is the time from the start of the /v2/health request until it answered or failed:
	// on a new connection it includes resolving the name, connecting and the TLS handshake; on a
	// connection kept from the last probe (Conns), the request alone.
	LatencyMS int64     `json:"latency_ms"`
	CheckedAt time.Time `json:"checked_at"`
	// Version is rbd-api's version from /v2/version, empty when it did not say.
	Version string `json:"version,omitempty"`
	// Cluster holds the resources /v2/cluster reported, nil when it did not answer in rbd-api's shape.
	Cluster *ClusterResources `json:"cluster,omitempty"`
}

// Probe checks the target once and never returns an error: every failure is an unhealthy Result.
func Probe(ctx context.Context, t Target, o Options) Result {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if o.Conns != nil && o.SkipDetails {
		if s := o.Conns.take(t); s != nil {
			if res := s.check(ctx, o.SkipDetails); res.State == StateHealthy {
				o.Conns.keep(s)
				return res
			}
			// An unhealthy verdict comes only from a new connection, which checks every step
			// from DNS up and so names the exact reason.
			s.close()
		}
	}
	s, res := open(t, o.Deny, timeout)
	if s == nil {
		return res
	}
	res = s.check(ctx, o.SkipDetails)
	if res.State == StateHealthy {
		o.Conns.keep(s)
	} else {
		s.close()
	}
	return res
}

func unhealthy(res Result, reason Reason, detail string) Result {
	res.State, res.Reason, res.Detail = StateUnhealthy, reason, clean(detail, detailLen)
	return res
}

// httpStatus is an answer's status line and, for a redirect, where it points.
type httpStatus struct {
	code     int
	text     string
	location string
	path     string
}

func (s httpStatus) ok() bool { return s.code >= 200 && s.code <= 299 }

func (s httpStatus) describe(contentType string, body []byte) string {
	head := fmt.Sprintf("GET %s answered %s", s.path, s.text)
	if s.code >= 300 && s.code <= 399 && s.location != "" {
		return head + ": a redirect to " + clean(s.location, excerptLen) + ", which is not followed"
	}
	if excerpt := clean(string(body), excerptLen); excerpt != "" && isText(contentType, body) {
		return head + ": " + excerpt
	}
	return head
}

// isText reports whether a body is worth an excerpt: text, JSON or XML, not binary.
func isText(contentType string, body []byte) bool {
	if contentType == "" {
		contentType = http.DetectContentType(body)
	}
	media, _, _ := mime.ParseMediaType(contentType)
	return strings.HasPrefix(media, "text/") || strings.HasSuffix(media, "json") || strings.HasSuffix(media, "xml")
}
