package app

import (
	"context"
	"testing"

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
	st, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	r := region.Region{EnterpriseID: "default", RegionID: uuid.NewString(), RegionName: "probed", RegionAlias: "Probed",
		URL: fake.URL, Status: region.StatusEnabled, Scope: region.ScopePrivate}
	if _, err := st.CreateRegion(ctx, r, store.AuditEvent{EnterpriseID: "default", TokenID: "test", Operation: store.OpRegionCreate}); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, serveCmd(t, "--database", dsn, "--addr", "127.0.0.1:0", "--probe-interval", "1h", "--probe-deny-cidrs", "none"))
	<-probed
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	if h, err := st.RegionHealth(ctx, "default", r.RegionID); err != nil || h.State != "healthy" || h.Version != "v5.17.3-release" {
		t.Fatalf("after serve stopped: %+v, %v", h, err)
	}
	if n := fake.Probes.Load(); n != 1 {
		t.Fatalf("probed %d times within an interval of an hour", n)
	}
}
