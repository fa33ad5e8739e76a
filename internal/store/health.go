// Placeholder until the health prober lands (issue 12): the lead replaces this file at merge.

package store

import (
	"context"

	"github.com/regiond/regiond/internal/region"
)

// RegionHealth is what the background prober last stored of a region of an enterprise. The
// placeholder has no prober behind it: every region is "unknown", never probed.
func (s *Store) RegionHealth(ctx context.Context, enterpriseID, regionID string) (region.Health, error) {
	if _, err := s.GetRegion(ctx, enterpriseID, regionID, Public); err != nil {
		return region.Health{}, err
	}
	return region.Health{RegionID: regionID, State: "unknown"}, nil
}
