package probe_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/regiond/regiond/internal/probe"
)

// serveConns accepts connections on loopback and hands each to handle, on its own goroutine,
// until the test ends; it returns the address.
func serveConns(t *testing.T, handle func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return ln.Addr().String()
}

// rawRegion hands each connection, after reading its first request's header, to answer: a
// region that speaks HTTP badly, or not at all.
func rawRegion(t *testing.T, answer func(c net.Conn)) string {
	t.Helper()
	return "http://" + serveConns(t, func(c net.Conn) {
		defer c.Close()
		if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
			answer(c)
		}
	})
}

// endless is an answer that never ends: the same line, again and again, until the probe hangs up.
func endless(c net.Conn, head, line string) {
	if _, err := io.WriteString(c, head); err != nil {
		return
	}
	for {
		if _, err := io.WriteString(c, line); err != nil {
			return
		}
	}
}

// TestProbeBoundsWhatARegionSends: a region that sends headers or a body without end costs a
// probe a bounded read. Endless headers are no valid answer; an endless body after a 200 is a
// healthy answer (the status is what counts), whose connection is not kept.
func TestProbeBoundsWhatARegionSends(t *testing.T) {
	t.Parallel()
	headers := rawRegion(t, func(c net.Conn) { endless(c, "HTTP/1.1 200 OK\r\n", "X-Padding: "+strings.Repeat("p", 100)+"\r\n") })
	res := probe.Probe(t.Context(), probe.Target{RegionID: "r", URL: headers}, options(t))
	wantReason(t, res, probe.ReasonHTTPStatus)
	if !strings.Contains(res.Detail, "larger than a probe reads") {
		t.Fatalf("detail %q: want it to say the answer was too large", res.Detail)
	}

	body := rawRegion(t, func(c net.Conn) {
		endless(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", strings.Repeat("b", 100))
	})
	conns := &probe.Conns{}
	t.Cleanup(conns.Close)
	o := options(t)
	o.Conns, o.SkipDetails = conns, true
	if res := probe.Probe(t.Context(), probe.Target{RegionID: "r", URL: body}, o); res.State != probe.StateHealthy {
		t.Fatalf("got %q %q (%s), want healthy", res.State, res.Reason, res.Detail)
	}
	if n := conns.Len(); n != 0 {
		t.Fatalf("%d connections kept after an answer that was not read whole", n)
	}

	garbage := rawRegion(t, func(c net.Conn) { io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n") })
	res = probe.Probe(t.Context(), probe.Target{RegionID: "r", URL: garbage}, options(t))
	wantReason(t, res, probe.ReasonHTTPStatus)
	if !strings.Contains(res.Detail, "no valid HTTP answer") {
		t.Fatalf("detail %q", res.Detail)
	}
}

// TestProbeKeepsOnlyConnectionsTheRegionKeeps: chunked answers keep the connection for the next
// request and the next probe; a region that answers "Connection: close" is asked its details on
// a new connection, and nothing is kept for it.
func TestProbeKeepsOnlyConnectionsTheRegionKeeps(t *testing.T) {
	t.Parallel()
	api := rbdAPI(nil)
	chunked := startPlainRegion(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.ServeHTTP(w, r)
		w.(http.Flusher).Flush() // before the handler returns: the body is sent chunked
		io.WriteString(w, " ")
	}))
	closing := startPlainRegion(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		api.ServeHTTP(w, r)
	}))
	conns := &probe.Conns{}
	t.Cleanup(conns.Close)
	probeOnce := func(region *fakeRegion, skipDetails bool) probe.Result {
		t.Helper()
		o := options(t)
		o.Conns, o.SkipDetails = conns, skipDetails
		res := probe.Probe(t.Context(), probe.Target{RegionID: region.URL, URL: region.URL}, o)
		if res.State != probe.StateHealthy {
			t.Fatalf("got %q %q (%s), want healthy", res.State, res.Reason, res.Detail)
		}
		return res
	}

	if res := probeOnce(chunked, false); res.Version != "v5.17.3-release" || res.Cluster == nil {
		t.Fatalf("chunked details not read: %+v", res)
	}
	probeOnce(chunked, true)
	if n := chunked.conns.Load(); n != 1 || conns.Len() != 1 {
		t.Fatalf("chunked answers: %d connections for two probes, %d kept; want 1 and 1", n, conns.Len())
	}

	if res := probeOnce(closing, false); res.Version != "v5.17.3-release" || res.Cluster == nil {
		t.Fatalf("details not read from a region that closes its connections: %+v", res)
	}
	if n := closing.conns.Load(); n != 3 || conns.Len() != 1 {
		t.Fatalf("Connection: close: %d connections for three requests (want 3), %d kept (want only the chunked region's)", n, conns.Len())
	}
}

// TestProbeUsesTheWholeURL: a url with a path asks /v2/health under it, and a url's user info is
// sent as basic authentication, as net/http's client does.
func TestProbeUsesTheWholeURL(t *testing.T) {
	t.Parallel()
	var seen atomic.Value
	region := startPlainRegion(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, password, _ := r.BasicAuth()
		seen.Store(r.Host + r.URL.Path + " " + user + ":" + password)
		io.WriteString(w, "ok")
	}))
	u, err := url.Parse(region.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.User, u.Path = url.UserPassword("console", "p@ss"), "/region-a/"
	o := options(t)
	o.SkipDetails = true
	if res := probe.Probe(t.Context(), probe.Target{RegionID: "r", URL: u.String()}, o); res.State != probe.StateHealthy {
		t.Fatalf("got %q %q (%s)", res.State, res.Reason, res.Detail)
	}
	if got, want := seen.Load(), u.Host+"/region-a/v2/health console:p@ss"; got != want {
		t.Fatalf("the region saw %q, want %q", got, want)
	}
}
