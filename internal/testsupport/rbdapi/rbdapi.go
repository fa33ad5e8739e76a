// Package rbdapi starts fake region APIs (Rainbond's rbd-api) on loopback for tests: over mutual
// TLS with a PKI made in the test, or plain HTTP, counting the health probes they answer.
package rbdapi

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regiond/regiond/internal/testsupport/testpki"
)

// PKI is a region's material: a CA for the region API's server certificate, a CA for the client
// certificates it accepts, and one leaf of each.
type PKI struct {
	ServerCA, ClientCA *testpki.CA
	Server, Client     testpki.Leaf
}

// NewPKI makes a PKI whose leaves are valid for 90 days (the server's for 127.0.0.1).
func NewPKI(t testing.TB) PKI {
	t.Helper()
	p := PKI{ServerCA: testpki.NewCA(t, "region server CA"), ClientCA: testpki.NewCA(t, "region client CA")}
	p.Server = p.ServerCA.Issue(t, "rbd-api", time.Now().AddDate(0, 0, 90), "127.0.0.1", "localhost")
	p.Client = p.ClientCA.Issue(t, "regiond", time.Now().AddDate(0, 0, 90))
	return p
}

// Region is a fake rbd-api.
type Region struct {
	*httptest.Server
	// Probes counts the GET /v2/health requests answered, Details the GET /v2/version ones,
	// Conns the connections accepted, Open those not closed yet.
	Probes, Details, Conns, Open atomic.Int64
	// Status is what /v2/health answers (200 by default).
	Status atomic.Int64
	// probed receives a value after each /v2/health answer, when the test asked for it.
	probed atomic.Pointer[chan struct{}]
}

// Handler answers /v2/health (with Status), /v2/version and /v2/cluster as rbd-api does.
func (r *Region) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/health", func(w http.ResponseWriter, _ *http.Request) {
		status := int(r.Status.Load())
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		if status == http.StatusOK {
			io.WriteString(w, `{"bean":{"status":"health","info":"api service health"}}`)
		} else {
			io.WriteString(w, `{"msg":"database is down"}`)
		}
		r.Probes.Add(1)
		if ch := r.probed.Load(); ch != nil {
			*ch <- struct{}{}
		}
	})
	mux.HandleFunc("GET /v2/version", func(w http.ResponseWriter, _ *http.Request) {
		r.Details.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"bean":{"version":"v5.17.3-release"}}`)
	})
	mux.HandleFunc("GET /v2/cluster", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"bean":{"cap_cpu":24,"req_cpu":7.5,"cap_mem":49152,"req_mem":10240,"cap_disk":536870912000,"req_disk":107374182400}}`)
	})
	return mux
}

// Start serves a fake rbd-api over mutual TLS with p's material, as rbd-api does.
func Start(t testing.TB, p PKI) *Region {
	t.Helper()
	r := newRegion()
	r.Server = httptest.NewUnstartedServer(r.Handler())
	r.TLS = &tls.Config{Certificates: []tls.Certificate{p.Server.TLS(t)}, ClientCAs: p.ClientCA.Pool(), ClientAuth: tls.RequireAndVerifyClientCert}
	r.Config.ErrorLog = log.New(io.Discard, "", 0)
	r.countConns()
	r.StartTLS()
	t.Cleanup(r.Close)
	return r
}

// StartPlain serves a fake rbd-api over plain HTTP.
func StartPlain(t testing.TB) *Region {
	t.Helper()
	r := newRegion()
	r.Server = httptest.NewUnstartedServer(r.Handler())
	r.countConns()
	r.Start()
	t.Cleanup(r.Close)
	return r
}

func newRegion() *Region {
	r := &Region{}
	r.Status.Store(http.StatusOK)
	return r
}

func (r *Region) countConns() {
	r.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			r.Conns.Add(1)
			r.Open.Add(1)
		case http.StateClosed, http.StateHijacked:
			r.Open.Add(-1)
		}
	}
}

// Notify makes the region send on the returned channel after each /v2/health it answers, so that
// a test waits for probes instead of for time. Call it before the region is probed.
func (r *Region) Notify(buffer int) <-chan struct{} {
	ch := make(chan struct{}, buffer)
	r.probed.Store(&ch)
	return ch
}

// ClosedURL is the URL of a loopback port nothing listens on.
func ClosedURL(t testing.TB, scheme string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return scheme + "://" + addr
}
