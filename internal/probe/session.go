package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// session is what probes one target: its url, its TLS material and one HTTP/1.1 connection to
// an allowed address, made by the first request and shared by a probe's requests; Conns may keep
// it for the region's next probe.
//
// The session writes its three fixed GET requests itself and reads the answers with net/http's
// own parser (http.ReadResponse), instead of going through an http.Transport. At a thousand
// probes a second on kept connections, the Transport's two goroutines per connection, and the
// hand-offs between them and the caller on every request, were a third of the prober's CPU
// (regiond probe alone: 96 µs a probe, against 61-67 this way), and on two cores that CPU is
// what moved the list's p99 (BENCHMARKS.md, "The list while regions are probed"). Doing each
// step in the probe's own goroutine also tells which step failed without a trace. Nothing of
// HTTP is lost: the Transport never negotiated HTTP/2 with a custom dialer, and a probe follows
// no redirect and asks for no compression.
type session struct {
	target   Target
	addr     string // host:port to dial
	https    bool
	material material
	tls      *tls.Config // nil for http
	dialer   net.Dialer
	timeout  time.Duration
	// The probe's requests: /v2/health, then /v2/version and /v2/cluster.
	health, version, cluster request

	conn   net.Conn      // nil until the first request, and after a failure
	answer budgetReader  // under br: bounds what one answer may send
	br     *bufio.Reader // the connection's reader, kept with it
	used   time.Time     // when a probe last used it, for Conns
}

// request is one of a probe's GETs: its path under the region's url, and the request as sent.
type request struct {
	path string
	wire []byte
}

// open makes the session of t, or returns the invalid_material result that says why it cannot.
// It connects nothing yet.
func open(t Target, deny DenyList, timeout time.Duration) (*session, Result) {
	invalid := func(detail string) (*session, Result) {
		return nil, unhealthy(Result{RegionID: t.RegionID, CheckedAt: time.Now().UTC()}, ReasonInvalidMaterial, detail)
	}
	s := &session{target: t, timeout: timeout}
	base, err := url.Parse(t.URL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return invalid("url: not an absolute http or https URL")
	}
	s.https = base.Scheme == "https"
	port := base.Port()
	switch {
	case port != "":
	case s.https:
		port = "443"
	default:
		port = "80"
	}
	s.addr = net.JoinHostPort(base.Hostname(), port)
	if s.https {
		if s.material, err = loadMaterial(t); err != nil {
			return invalid(err.Error())
		}
		s.tls = s.material.tlsConfig()
		s.tls.ServerName = base.Hostname()
	}
	if deny == nil {
		deny = DefaultDenyList()
	}
	// Never through a proxy: the deny list must apply to the region's own addresses.
	s.dialer = net.Dialer{Control: deny.control}
	header := "Host: " + base.Host + "\r\nUser-Agent: regiond-probe\r\nAccept: application/json, text/plain;q=0.9\r\n"
	if base.User != nil {
		// What net/http sends for a url with user info.
		password, _ := base.User.Password()
		header += "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(base.User.Username()+":"+password)) + "\r\n"
	}
	root := *base
	if root.Path == "" {
		root.Path = "/" // https://host, as https://host/
	}
	for _, r := range []struct {
		dst  *request
		path string
	}{{&s.health, "v2/health"}, {&s.version, "v2/version"}, {&s.cluster, "v2/cluster"}} {
		u := root.JoinPath(r.path)
		*r.dst = request{path: u.Path, wire: []byte("GET " + u.RequestURI() + " HTTP/1.1\r\n" + header + "\r\n")}
	}
	return s, Result{}
}

func (s *session) close() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// check asks /v2/health and, unless skipDetails, /v2/version and /v2/cluster.
func (s *session) check(ctx context.Context, skipDetails bool) Result {
	start := time.Now()
	res := Result{RegionID: s.target.RegionID, CheckedAt: start.UTC()}
	a := &attempt{https: s.https, customRoots: s.material.roots != nil, clientLeaf: s.material.clientLeaf, timeout: s.timeout}
	status, contentType, body, err := s.get(ctx, a, &s.health, healthBodyLimit)
	res.LatencyMS = time.Since(start).Milliseconds()
	if err != nil {
		reason, detail := a.classify(ctx, err)
		return unhealthy(res, reason, detail)
	}
	if !status.ok() {
		return unhealthy(res, ReasonHTTPStatus, status.describe(contentType, body))
	}
	res.State = StateHealthy
	if skipDetails {
		return res
	}
	// Both are optional: a region that does not answer them is still healthy.
	if st, ct, b, err := s.get(ctx, &attempt{}, &s.version, versionBodyLimit); err == nil && st.ok() {
		res.Version = parseVersion(ct, b)
	}
	if st, _, b, err := s.get(ctx, &attempt{}, &s.cluster, clusterBodyLimit); err == nil && st.ok() {
		res.Cluster = parseCluster(b)
	}
	return res
}

// connect dials an allowed address of the target and, for https, makes the TLS handshake with
// its material; a records how far it got.
func (s *session) connect(ctx context.Context, a *attempt) error {
	conn, err := s.dialer.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return err
	}
	a.connected = true
	if s.https {
		tc := tls.Client(conn, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return err
		}
		a.handshook = true
		conn = tc
	}
	s.conn = conn
	s.answer = budgetReader{r: conn}
	// A probe's answers are a few hundred bytes: net/http's usual 4 KiB buffer per connection was a
	// third of the prober's garbage. Longer header lines still read whole (up to headerLimit).
	s.br = bufio.NewReaderSize(&s.answer, 1<<10)
	return nil
}

// get sends r on the session's connection, connecting first when it has none, and reads at most
// limit bytes of the answer's body. The connection stays open for the next request only when the
// answer was read whole and the server did not close it.
func (s *session) get(ctx context.Context, a *attempt, r *request, limit int) (status httpStatus, contentType string, body []byte, err error) {
	if s.conn == nil {
		if err := s.connect(ctx, a); err != nil {
			return status, "", nil, err
		}
	} else {
		a.connected, a.handshook = true, true
	}
	conn := s.conn
	// Probe's context always has a deadline; a context canceled before it (the server stopping)
	// cuts the exchange short the same way.
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	defer context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })()
	keep := false
	defer func() {
		if !keep {
			s.close()
		}
	}()

	if _, err := conn.Write(r.wire); err != nil {
		return status, "", nil, err
	}
	// The header, the body up to limit, and the framing of a chunked body.
	s.answer.n = headerLimit + limit + 4<<10
	if _, err := s.br.Peek(1); err != nil {
		return status, "", nil, err
	}
	a.answered = true
	resp, err := http.ReadResponse(s.br, nil)
	if err != nil {
		return status, "", nil, err
	}
	// The status is the answer; a body cut short still gives what arrived.
	body, err = io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	whole := err == nil && len(body) <= limit
	body = body[:min(len(body), limit)]
	status = httpStatus{code: resp.StatusCode, text: resp.Status, location: resp.Header.Get("Location"), path: r.path}
	if whole {
		// The body was read to its end: closing it reads a chunked body's trailer, if any.
		keep = resp.Body.Close() == nil && !resp.Close
	}
	return status, resp.Header.Get("Content-Type"), body, nil
}

// budgetReader bounds what one answer may send, so that a hostile or broken region cannot make a
// probe read without end: get sets n before each request.
type budgetReader struct {
	r io.Reader
	n int
}

var errAnswerTooLarge = errors.New("the answer is larger than a probe reads")

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, errAnswerTooLarge
	}
	if len(p) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= n
	return n, err
}
