package app

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/testsupport/rbdapi"
)

// TestServeProbesRegions: `regiond serve` runs the background prober: a region stored before it
// starts is probed (the fake region says when), and on shutdown the result is stored before the
// database closes.
func TestServeProbesRegions(t *testing.T) {
	dsn := dbtest.SQLite(t)
	fake := rbdapi.StartPlain(t)
	probed := fake.Notify(4)
	ctx := context.Background()
	st, ids := storeWithRegions(t, dsn, fake.URL)
	srv := startServe(t, serveCmd(t, "--database", dsn, "--addr", "127.0.0.1:0", "--probe-interval", "1h", "--probe-deny-cidrs", "none"))
	<-probed
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	if h, err := st.RegionHealth(ctx, "default", ids[0]); err != nil || h.State != "healthy" || h.Version != "v5.17.3-release" {
		t.Fatalf("after serve stopped: %+v, %v", h, err)
	}
	if n := fake.Probes.Load(); n != 1 {
		t.Fatalf("probed %d times within an interval of an hour", n)
	}
}

// TestProbeCommand: `regiond probe`, a real process, probes the regions of the database it is
// given without serving the API, and on SIGTERM stores the result of the probe in flight and
// exits 0. serve and probe share the schedule: a region it probed is not probed again within
// the interval by a serve replica on the same database.
func TestProbeCommand(t *testing.T) {
	dsn := dbtest.SQLite(t)
	entered, release := make(chan struct{}), make(chan struct{})
	fake := rbdapi.StartPlain(t)
	slow := rbdapi.StartPlain(t)
	answer := slow.Handler()
	slow.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/health" {
			close(entered)
			<-release
		}
		answer.ServeHTTP(w, r)
	})
	probed := fake.Notify(4)
	ctx := context.Background()
	st, ids := storeWithRegions(t, dsn, fake.URL, slow.URL)
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "probe", "--database", dsn, "--probe-interval", "1h", "--probe-deny-cidrs", "none")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	<-probed
	<-entered
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The probe in flight ends only once the process is shutting down: it must wait for it.
	for deadline := time.Now().Add(time.Minute); !strings.Contains(stderr.String(), "shutting down"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("regiond probe did not shut down on SIGTERM:\n%s", stderr.String())
		}
	}
	close(release)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("regiond probe exited: %v\n%s", err, stderr.String())
	}
	for _, id := range ids {
		if h, err := st.RegionHealth(ctx, "default", id); err != nil || h.State != "healthy" {
			t.Fatalf("region %s after regiond probe stopped: %+v, %v\n%s", id, h, err, stderr.String())
		}
	}
	srv := startServe(t, serveCmd(t, "--database", dsn, "--addr", "127.0.0.1:0", "--probe-interval", "1h", "--probe-deny-cidrs", "none"))
	// serve's first pass runs at its start; a pass after it would find nothing due either.
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	if a, b := fake.Probes.Load(), slow.Probes.Load(); a != 1 || b != 1 {
		t.Fatalf("the regions were probed %d and %d times within an interval of an hour by probe and serve", a, b)
	}
	if !strings.Contains(stderr.String(), `"msg":"probing"`) || strings.Contains(stderr.String(), `"msg":"serving"`) {
		t.Fatalf("regiond probe's log:\n%s", stderr.String())
	}
}

// storeWithRegions migrates the database at dsn and stores one region per url, in the enterprise
// "default"; it returns the store (closed when the test ends) and the regions' ids.
func storeWithRegions(t *testing.T, dsn string, urls ...string) (*store.Store, []string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, u := range urls {
		r := region.Region{EnterpriseID: "default", RegionID: uuid.NewString(), RegionName: fmt.Sprint("probed-", i), RegionAlias: "Probed",
			URL: u, Status: region.StatusEnabled, Scope: region.ScopePrivate}
		if _, err := st.CreateRegion(ctx, r, store.AuditEvent{EnterpriseID: "default", TokenID: "test", Operation: store.OpRegionCreate}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.RegionID)
	}
	return st, ids
}
