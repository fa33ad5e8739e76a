package probe_test

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/regiond/regiond/internal/probe"
)

// TestConnsKeepTheConnectionBetweenProbes: with Conns, probes that skip the details ask on the
// connection of the probe before; one that reads them, or a new target, connects anew; a kept
// connection that fails gives way to a new one, which names the exact reason.
func TestConnsKeepTheConnectionBetweenProbes(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	var failing atomic.Bool
	api := rbdAPI(nil)
	region := startRegion(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "draining")
			return
		}
		api.ServeHTTP(w, r)
	}), p.server, p.clientCA.Pool(), 0)
	closed := region.closed
	conns := &probe.Conns{}
	t.Cleanup(conns.Close)
	target := p.target(region.URL)
	probeOnce := func(target probe.Target, skipDetails bool) probe.Result {
		o := options(t)
		o.Conns, o.SkipDetails = conns, skipDetails
		return probe.Probe(t.Context(), target, o)
	}
	healthy := func(res probe.Result, wantConns int64) {
		t.Helper()
		if res.State != probe.StateHealthy {
			t.Fatalf("got %q %q (%s), want healthy", res.State, res.Reason, res.Detail)
		}
		if n := region.conns.Load(); n != wantConns {
			t.Fatalf("the region accepted %d connections, want %d", n, wantConns)
		}
	}

	res := probeOnce(target, false)
	healthy(res, 1)
	if res.Version == "" || conns.Len() != 1 {
		t.Fatalf("version %q, %d kept connections: want the details read and the connection kept", res.Version, conns.Len())
	}
	for range 5 {
		res = probeOnce(target, true)
		healthy(res, 1)
		if res.Version != "" {
			t.Fatalf("a probe that skips the details read them: %q", res.Version)
		}
	}

	// Reading the details connects anew, and so does a target that changed (here its name).
	healthy(probeOnce(target, false), 2)
	<-closed // the connection it replaced
	renamed := p.target(withHost(t, region.URL, "localhost"))
	healthy(probeOnce(renamed, true), 3)
	<-closed
	healthy(probeOnce(renamed, true), 3)

	// The region closes its side: the next probe connects anew and is healthy.
	region.CloseClientConnections()
	<-closed
	healthy(probeOnce(renamed, true), 4)

	// A kept connection that gets an error answer is not trusted with the verdict: it is closed
	// and a new connection gives it, and no connection is kept for the failing region.
	failing.Store(true)
	res = probeOnce(renamed, true)
	wantReason(t, res, probe.ReasonHTTPStatus)
	if n := region.conns.Load(); n != 5 || conns.Len() != 0 {
		t.Fatalf("%d connections accepted (want 5: the verdict on a new one), %d kept (want 0)", n, conns.Len())
	}
	<-closed
	<-closed

	// A region that went away entirely is refused, not blamed on the connection that was kept.
	failing.Store(false)
	healthy(probeOnce(renamed, true), 6)
	region.Close()
	<-closed
	wantReason(t, probeOnce(renamed, true), probe.ReasonRefused)

	// Close closes what is kept.
	other := startPlainRegion(t, rbdAPI(nil))
	if res := probeOnce(probe.Target{RegionID: "r2", URL: other.URL}, false); res.State != probe.StateHealthy || conns.Len() != 1 {
		t.Fatalf("got %q (%s), %d kept", res.State, res.Detail, conns.Len())
	}
	conns.Close()
	<-other.closed
	if conns.Len() != 0 {
		t.Fatalf("%d kept after Close", conns.Len())
	}
}

// TestProbeWithoutConnsClosesItsConnection: a probe without Conns (on demand) leaves nothing open.
func TestProbeWithoutConnsClosesItsConnection(t *testing.T) {
	t.Parallel()
	region := startPlainRegion(t, rbdAPI(nil))
	if res := probe.Probe(t.Context(), probe.Target{RegionID: "r3", URL: region.URL}, options(t)); res.State != probe.StateHealthy {
		t.Fatalf("got %q (%s)", res.State, res.Detail)
	}
	<-region.closed
	if n := region.conns.Load(); n != 1 {
		t.Fatalf("%d connections for one probe's three requests", n)
	}
}
