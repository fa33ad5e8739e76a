package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
)

// TestGetRegionByIDOrName: Rainbond's detail call names a region by id or by region_name. The id
// wins over a name, names compare byte for byte, and another enterprise's region is not found.
func TestGetRegionByIDOrName(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := open(t, dsn, nil)
		a := mustCreate(t, s, newRegion("en1", "byname-a"))
		// A region whose name is another region's id: the id still names the other one.
		b := newRegion("en1", "x")
		b.RegionName = a.RegionID
		b = mustCreate(t, s, b)
		other := mustCreate(t, s, newRegion("en2", "byname-other"))

		for _, c := range []struct{ key, want string }{
			{a.RegionID, a.RegionID},
			{"byname-a", a.RegionID},
			{b.RegionID, b.RegionID},
		} {
			got, err := s.GetRegionByIDOrName(ctx, "en1", c.key, store.Public)
			if err != nil || got.RegionID != c.want {
				t.Errorf("GetRegionByIDOrName(%q) = %s, %v; want %s", c.key, got.RegionID, err, c.want)
			}
			if err == nil && (got.CreateTime.IsZero() || got.Version != 1 || got.SSLCACert != nil) {
				t.Errorf("GetRegionByIDOrName(%q) read %+v: want its times and version, no TLS field", c.key, got)
			}
		}
		for _, key := range []string{"BYNAME-A", "byname-a ", "byname-", other.RegionID, "byname-other", ""} {
			if got, err := s.GetRegionByIDOrName(ctx, "en1", key, store.Public); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetRegionByIDOrName(%q) = %s, %v; want ErrNotFound", key, got.RegionID, err)
			}
		}
	})
}
