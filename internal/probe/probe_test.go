package probe_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/regiond/regiond/internal/probe"
	"github.com/regiond/regiond/internal/testsupport/testpki"
)

// generous bounds every probe of a test: far above what loopback needs on a loaded machine, so
// only the timeout test, which sets its own short timeout, ever sees a deadline.
const generous = 30 * time.Second

// fakePKI is a region's material: a CA for the region API's server certificate, a CA for the
// client certificates it accepts, and one of each leaf.
type fakePKI struct {
	serverCA, clientCA *testpki.CA
	server, client     testpki.Leaf
}

func newPKI(t *testing.T) fakePKI {
	t.Helper()
	p := fakePKI{serverCA: testpki.NewCA(t, "region server CA"), clientCA: testpki.NewCA(t, "region client CA")}
	p.server = p.serverCA.Issue(t, "rbd-api", time.Now().AddDate(0, 0, 90), "127.0.0.1", "localhost")
	p.client = p.clientCA.Issue(t, "regiond", time.Now().AddDate(0, 0, 90))
	return p
}

// target is the region as stored: its url and the three PEM fields.
func (p fakePKI) target(url string) probe.Target {
	return probe.Target{RegionID: "r1", URL: url, SSLCACert: p.serverCA.CertPEM, CertFile: p.client.CertPEM, KeyFile: p.client.KeyPEM}
}

// fakeRegion is a fake rbd-api on loopback that counts the connections it accepts, and sends on
// closed (when there is room) as each one closes.
type fakeRegion struct {
	*httptest.Server
	conns  atomic.Int64
	closed chan struct{}
}

// startRegion serves h over mutual TLS, as rbd-api does: cert is the server certificate, and
// a client certificate verified against clientCAs is required. maxVersion caps the TLS version
// (0: crypto/tls's default, TLS 1.3).
func startRegion(t *testing.T, h http.Handler, cert testpki.Leaf, clientCAs *x509.CertPool, maxVersion uint16) *fakeRegion {
	t.Helper()
	r := &fakeRegion{Server: httptest.NewUnstartedServer(h)}
	r.TLS = &tls.Config{
		Certificates: []tls.Certificate{cert.TLS(t)},
		ClientCAs:    clientCAs,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MaxVersion:   maxVersion,
	}
	r.countConns()
	r.StartTLS()
	t.Cleanup(r.Close)
	return r
}

// startPlainRegion serves h over plain HTTP.
func startPlainRegion(t *testing.T, h http.Handler) *fakeRegion {
	t.Helper()
	r := &fakeRegion{Server: httptest.NewUnstartedServer(h)}
	r.countConns()
	r.Start()
	t.Cleanup(r.Close)
	return r
}

func (r *fakeRegion) countConns() {
	// The handshake failures the tests provoke on purpose would otherwise be logged.
	r.Config.ErrorLog = log.New(io.Discard, "", 0)
	r.closed = make(chan struct{}, 64)
	r.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			r.conns.Add(1)
		case http.StateClosed:
			select {
			case r.closed <- struct{}{}:
			default:
			}
		}
	}
}

// rbdAPI answers /v2/health, /v2/version and /v2/cluster the way rbd-api does (go-chi render's
// {"bean": ...} envelope), and records the client certificate's common name it was shown.
func rbdAPI(clientCN *atomic.Value) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/health", func(w http.ResponseWriter, r *http.Request) {
		if clientCN != nil && r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			clientCN.Store(r.TLS.PeerCertificates[0].Subject.CommonName)
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, `{"bean":{"status":"health","info":"api service health"}}`)
	})
	mux.HandleFunc("GET /v2/version", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, `{"bean":{"version":"v5.17.3-release"}}`)
	})
	mux.HandleFunc("GET /v2/cluster", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, `{"bean":{"all_node":3,"notready_node":0,"compute_node":3,"cap_cpu":24,`+
			`"cap_mem":49152,"req_cpu":7.5,"req_mem":10240,"cap_disk":536870912000,"req_disk":107374182400,`+
			`"max_allocatable_memory_node_resource":{"milli_cpu":4000,"memory":8589934592},"k8s_version":"v1.30.2"}}`)
	})
	return mux
}

// options allows every address (the fake regions live on loopback) with a generous timeout.
func options(t *testing.T) probe.Options {
	t.Helper()
	none, err := probe.ParseDenyList("none")
	if err != nil {
		t.Fatal(err)
	}
	return probe.Options{Timeout: generous, Deny: none}
}

func wantReason(t *testing.T, res probe.Result, reason probe.Reason) {
	t.Helper()
	if res.State != probe.StateUnhealthy || res.Reason != reason {
		t.Fatalf("got state %q reason %q (detail %q), want unhealthy %q", res.State, res.Reason, res.Detail, reason)
	}
	t.Logf("%s: %s", res.Reason, res.Detail)
	if res.Detail == "" || len(res.Detail) > 300 {
		t.Fatalf("detail %q: want a short, non-empty explanation", res.Detail)
	}
	for _, r := range res.Detail {
		if !unicode.IsPrint(r) {
			t.Fatalf("detail %q holds the unprintable %U", res.Detail, r)
		}
	}
	if res.Version != "" || res.Cluster != nil {
		t.Fatalf("an unhealthy result carries version %q cluster %+v", res.Version, res.Cluster)
	}
}

func withHost(t *testing.T, rawURL, host string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(strings.TrimPrefix(strings.TrimPrefix(rawURL, "https://"), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	scheme, _, _ := strings.Cut(rawURL, "://")
	return scheme + "://" + net.JoinHostPort(host, port)
}

func TestProbeHealthyMutualTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	var clientCN atomic.Value
	region := startRegion(t, rbdAPI(&clientCN), p.server, p.clientCA.Pool(), 0)

	before := time.Now()
	// By name, so that the name resolves and the server certificate's DNS SAN is checked.
	res := probe.Probe(t.Context(), p.target(withHost(t, region.URL, "localhost")+"/"), options(t))

	if res.State != probe.StateHealthy || res.Reason != "" {
		t.Fatalf("got state %q reason %q detail %q, want healthy", res.State, res.Reason, res.Detail)
	}
	if res.RegionID != "r1" || res.LatencyMS < 0 || res.CheckedAt.Before(before.Add(-time.Second)) || res.CheckedAt.After(time.Now()) {
		t.Fatalf("got region %q latency %d checked_at %v", res.RegionID, res.LatencyMS, res.CheckedAt)
	}
	if got := clientCN.Load(); got != "regiond" {
		t.Fatalf("the region saw client certificate %v, want regiond", got)
	}
	if res.Version != "v5.17.3-release" {
		t.Fatalf("version %q", res.Version)
	}
	c := res.Cluster
	if c == nil {
		t.Fatal("cluster resources not parsed")
	}
	const mib = 1 << 20
	for name, got := range map[string]struct {
		got  *float64
		want float64
	}{
		"cpu_total_cores":    {c.CPUTotalCores, 24},
		"cpu_used_cores":     {c.CPUUsedCores, 7.5},
		"memory_total_bytes": {c.MemoryTotalBytes, 49152 * mib},
		"memory_used_bytes":  {c.MemoryUsedBytes, 10240 * mib},
		"disk_total_bytes":   {c.DiskTotalBytes, 536870912000},
		"disk_used_bytes":    {c.DiskUsedBytes, 107374182400},
	} {
		if got.got == nil || *got.got != got.want {
			t.Errorf("%s = %v, want %v", name, got.got, got.want)
		}
	}
}

func TestProbePlainHTTPWithoutVersionOrCluster(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/health", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("GET /v2/cluster", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"bean":{"cap_cpu":"lots","cap_mem":{"x":1}}}`)
	})
	region := startPlainRegion(t, mux)

	res := probe.Probe(t.Context(), probe.Target{RegionID: "r2", URL: region.URL}, options(t))

	if res.State != probe.StateHealthy {
		t.Fatalf("got state %q reason %q detail %q, want healthy", res.State, res.Reason, res.Detail)
	}
	// /v2/version answers 404 and /v2/cluster an unknown shape: both absent, neither fails the probe.
	if res.Version != "" || res.Cluster != nil {
		t.Fatalf("got version %q cluster %+v, want both absent", res.Version, res.Cluster)
	}
}

func TestProbeServerSignedByAnotherCA(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	other := testpki.NewCA(t, "someone else's CA").Issue(t, "rbd-api", time.Now().AddDate(0, 0, 90), "127.0.0.1")
	region := startRegion(t, rbdAPI(nil), other, p.clientCA.Pool(), 0)

	wantReason(t, probe.Probe(t.Context(), p.target(region.URL), options(t)), probe.ReasonTLSUnknownAuthority)
}

func TestProbeExpiredServerCertificate(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	expired := p.serverCA.Issue(t, "rbd-api", time.Now().AddDate(0, 0, -2), "127.0.0.1")
	region := startRegion(t, rbdAPI(nil), expired, p.clientCA.Pool(), 0)

	res := probe.Probe(t.Context(), p.target(region.URL), options(t))
	wantReason(t, res, probe.ReasonTLSExpired)
	if !strings.Contains(res.Detail, "server") {
		t.Fatalf("detail %q does not say it is the server's certificate", res.Detail)
	}
}

// tlsVersions runs a client-certificate test under TLS 1.2, where the server refuses our
// certificate during the handshake, and TLS 1.3, where its refusal arrives on the first read.
func tlsVersions(t *testing.T, test func(t *testing.T, p fakePKI, target probe.Target)) {
	t.Helper()
	for name, version := range map[string]uint16{"TLS1.2": tls.VersionTLS12, "TLS1.3": tls.VersionTLS13} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := newPKI(t)
			region := startRegion(t, rbdAPI(nil), p.server, p.clientCA.Pool(), version)
			test(t, p, p.target(region.URL))
		})
	}
}

func TestProbeExpiredClientCertificate(t *testing.T) {
	t.Parallel()
	tlsVersions(t, func(t *testing.T, p fakePKI, target probe.Target) {
		expired := p.clientCA.Issue(t, "regiond", time.Now().AddDate(0, 0, -2))
		target.CertFile, target.KeyFile = expired.CertPEM, expired.KeyPEM
		res := probe.Probe(t.Context(), target, options(t))
		wantReason(t, res, probe.ReasonTLSExpired)
		if !strings.Contains(res.Detail, "client") {
			t.Fatalf("detail %q does not say it is our client certificate", res.Detail)
		}
	})
}

func TestProbeClientCertificateRequiredButMissing(t *testing.T) {
	t.Parallel()
	tlsVersions(t, func(t *testing.T, _ fakePKI, target probe.Target) {
		target.CertFile, target.KeyFile = "", ""
		wantReason(t, probe.Probe(t.Context(), target, options(t)), probe.ReasonTLSHandshake)
	})
}

func TestProbeClientCertificateFromAnotherCA(t *testing.T) {
	t.Parallel()
	tlsVersions(t, func(t *testing.T, _ fakePKI, target probe.Target) {
		stranger := testpki.NewCA(t, "someone else's CA").Issue(t, "regiond", time.Now().AddDate(0, 0, 90))
		target.CertFile, target.KeyFile = stranger.CertPEM, stranger.KeyPEM
		wantReason(t, probe.Probe(t.Context(), target, options(t)), probe.ReasonTLSHandshake)
	})
}

// TestProbeConnectionDroppedWithoutAnswer covers the failure no Go error type explains: over
// https a server that completes the handshake and then closes the connection, which is how a
// TLS 1.3 server refusing our certificate looks when its alert is lost; over http a server that
// closes without an answer.
func TestProbeConnectionDroppedWithoutAnswer(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	cert := p.server.TLS(t)
	for scheme, want := range map[string]probe.Reason{"https": probe.ReasonTLSHandshake, "http": probe.ReasonHTTPStatus} {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			addr := serveConns(t, func(c net.Conn) {
				conn := c
				if scheme == "https" {
					conn = tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
				}
				// Read the request, then close the TCP connection without a byte of answer (no
				// TLS alert, no close_notify).
				conn.Read(make([]byte, 4096))
				c.Close()
			})
			target := p.target(scheme + "://" + addr)
			target.CertFile, target.KeyFile = "", ""
			wantReason(t, probe.Probe(t.Context(), target, options(t)), want)
		})
	}
}

func TestProbeCanceledByCaller(t *testing.T) {
	t.Parallel()
	region := startPlainRegion(t, rbdAPI(nil))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res := probe.Probe(ctx, probe.Target{URL: region.URL}, options(t))
	wantReason(t, res, probe.ReasonTimeout)
	if !strings.Contains(res.Detail, "canceled") {
		t.Fatalf("detail %q", res.Detail)
	}
}

func TestProbeClosedPort(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	wantReason(t, probe.Probe(t.Context(), probe.Target{URL: "https://" + addr}, options(t)), probe.ReasonRefused)
}

func TestProbeServerThatNeverAnswers(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Accept every connection and hold it open without a byte in answer.
	held := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(held)
				return
			}
			held <- c
		}
	}()
	t.Cleanup(func() {
		l.Close()
		for c := range held {
			c.Close()
		}
	})

	for _, scheme := range []string{"https", "http"} {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			opts := options(t)
			opts.Timeout = 300 * time.Millisecond
			start := time.Now()
			res := probe.Probe(t.Context(), probe.Target{URL: scheme + "://" + l.Addr().String()}, opts)
			wantReason(t, res, probe.ReasonTimeout)
			if took := time.Since(start); took > generous {
				t.Fatalf("a 300ms probe took %v", took)
			}
		})
	}
}

// TestProbeLongHeadersAndSkippedDetails: answers with header lines longer than the probe's small
// connection buffers read whole (up to the header limit), and SkipDetails asks /v2/health alone.
func TestProbeLongHeadersAndSkippedDetails(t *testing.T) {
	t.Parallel()
	var details atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Padding", strings.Repeat("p", 6000))
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /v2/version", func(w http.ResponseWriter, r *http.Request) {
		details.Add(1)
		w.Header().Set("X-Padding", strings.Repeat("p", 6000))
		io.WriteString(w, `{"bean":{"version":"v5.17.3-release"}}`)
	})
	region := startPlainRegion(t, mux)

	res := probe.Probe(t.Context(), probe.Target{RegionID: "r", URL: region.URL}, options(t))
	if res.State != probe.StateHealthy || res.Version != "v5.17.3-release" || details.Load() != 1 {
		t.Fatalf("with 6,000-byte header lines: %+v (version reads %d)", res, details.Load())
	}
	o := options(t)
	o.SkipDetails = true
	res = probe.Probe(t.Context(), probe.Target{RegionID: "r", URL: region.URL}, o)
	if res.State != probe.StateHealthy || res.Version != "" || details.Load() != 1 {
		t.Fatalf("skipping the details: %+v (version reads %d)", res, details.Load())
	}
}

func TestProbeHealthAnswers500(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	region := startRegion(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "Traceback (most recent call last):\n\x1b[31m  File \"x.py\"\x00 "+strings.Repeat("secret internals ", 500))
	}), p.server, p.clientCA.Pool(), 0)

	res := probe.Probe(t.Context(), p.target(region.URL), options(t))
	wantReason(t, res, probe.ReasonHTTPStatus)
	if !strings.Contains(res.Detail, "GET /v2/health answered 500") || !strings.Contains(res.Detail, "Traceback") {
		t.Fatalf("detail %q: want the status and a short excerpt of the body", res.Detail)
	}
}

func TestProbeNameThatDoesNotResolve(t *testing.T) {
	t.Parallel()
	wantReason(t, probe.Probe(t.Context(), probe.Target{URL: "https://region.invalid:8443"}, options(t)), probe.ReasonDNS)
}

func TestProbeDeniedAddress(t *testing.T) {
	t.Parallel()
	region := startPlainRegion(t, rbdAPI(nil))

	// The default deny list holds loopback: an address and a name that resolves to it are both
	// refused before a connection is made.
	for _, host := range []string{"127.0.0.1", "localhost"} {
		res := probe.Probe(t.Context(), probe.Target{URL: withHost(t, region.URL, host)}, probe.Options{Timeout: generous})
		wantReason(t, res, probe.ReasonDenied)
	}
	if n := region.conns.Load(); n != 0 {
		t.Fatalf("the region accepted %d connections from denied probes", n)
	}
}

func TestProbeInvalidMaterial(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	region := startRegion(t, rbdAPI(nil), p.server, p.clientCA.Pool(), 0)
	other := p.clientCA.Issue(t, "regiond", time.Now().AddDate(0, 0, 90))

	for name, edit := range map[string]func(*probe.Target){
		"unparsable ssl_ca_cert": func(t *probe.Target) {
			t.SSLCACert = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
		},
		"ssl_ca_cert not PEM":  func(t *probe.Target) { t.SSLCACert = "PEM lib" },
		"unparsable cert_file": func(t *probe.Target) { t.CertFile = strings.Replace(t.CertFile, "M", "A", 5) },
		"key does not match":   func(t *probe.Target) { t.KeyFile = other.KeyPEM },
		"cert without key":     func(t *probe.Target) { t.KeyFile = "" },
		"url scheme":           func(t *probe.Target) { t.URL = strings.Replace(t.URL, "https", "ftp", 1) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			target := p.target(region.URL)
			edit(&target)
			res := probe.Probe(t.Context(), target, options(t))
			wantReason(t, res, probe.ReasonInvalidMaterial)
			if strings.Contains(res.Detail, other.KeyPEM[40:80]) {
				t.Fatalf("detail %q shows key material", res.Detail)
			}
		})
	}
	if n := region.conns.Load(); n != 0 {
		t.Fatalf("the region accepted %d connections for unusable material", n)
	}
}

func TestProbeDoesNotFollowRedirect(t *testing.T) {
	t.Parallel()
	var followed atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/health", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/moved/v2/health", http.StatusFound)
	})
	mux.HandleFunc("/moved/", func(w http.ResponseWriter, r *http.Request) { followed.Store(true) })
	region := startPlainRegion(t, mux)

	res := probe.Probe(t.Context(), probe.Target{URL: region.URL}, options(t))
	wantReason(t, res, probe.ReasonHTTPStatus)
	if !strings.Contains(res.Detail, "redirect") || !strings.Contains(res.Detail, "/moved/v2/health") {
		t.Fatalf("detail %q does not name the redirect", res.Detail)
	}
	if followed.Load() {
		t.Fatal("the redirect was followed")
	}
}
