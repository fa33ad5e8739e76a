package transport

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4/middleware"
)

// The security headers every response carries: the ones that matter for JSON (OWASP's REST list:
// no sniffing, no framing, no storing — CSP's frame-ancestors is what X-Frame-Options was, and a
// cache must not store a response to an authorized request anyway, so Vary: Authorization would
// add nothing). HTML pages (the docs) add their own. Few headers keep the list cheap: net/http
// clones, sorts and writes each one on every response.
const (
	nosniff    = "nosniff"
	apiCSP     = "default-src 'none'; frame-ancestors 'none'"
	hstsMaxAge = 31536000 // a year, sent over TLS only
)

// Header values are shared slices, assigned without canonicalising: the keys are canonical.
var (
	nosniffValue   = []string{nosniff}
	apiCSPValue    = []string{apiCSP}
	hstsValue      = []string{"max-age=" + strconv.Itoa(hstsMaxAge)}
	noStore        = []string{"no-store"}
	privateNoCache = []string{"private, no-cache"}
)

// setSecurityHeaders sets the security headers, and Cache-Control: no-store, on a response.
func setSecurityHeaders(h http.Header, r *http.Request) {
	h["X-Content-Type-Options"] = nosniffValue
	h["Content-Security-Policy"] = apiCSPValue
	h["Cache-Control"] = noStore
	if r.TLS != nil {
		h["Strict-Transport-Security"] = hstsValue
	}
}

// SecureConfig is Echo's Secure middleware set to the same headers as setSecurityHeaders (but
// Cache-Control, which it does not set), with its other defaults off. HSTS follows Echo's scheme:
// the server sets SchemeExtractor to the connection's own.
func SecureConfig() middleware.SecureConfig {
	return middleware.SecureConfig{
		ContentTypeNosniff:    nosniff,
		ContentSecurityPolicy: apiCSP,
		HSTSMaxAge:            hstsMaxAge,
		HSTSExcludeSubdomains: true,
	}
}
