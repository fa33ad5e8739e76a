package handlers

import (
	"context"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/convert"
	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/transport"
)

// GetRegionHealth reads what the prober last saw of a region, with its certificates as stored.
func (h *Handlers) GetRegionHealth(ctx context.Context, req api.GetRegionHealthRequestObject) (api.GetRegionHealthResponseObject, error) {
	body, err := h.regionHealth(ctx, req.RegionId, false)
	if err != nil {
		return nil, err
	}
	return api.GetRegionHealth200JSONResponse{Body: body}, nil
}

// ProbeRegionHealth probes a region now, stores the result and returns it.
func (h *Handlers) ProbeRegionHealth(ctx context.Context, req api.ProbeRegionHealthRequestObject) (api.ProbeRegionHealthResponseObject, error) {
	body, err := h.regionHealth(ctx, req.RegionId, true)
	if err != nil {
		return nil, err
	}
	return api.ProbeRegionHealth200JSONResponse{Body: body}, nil
}

// regionHealth reads the region (its certificates, and a 404 for another enterprise's), probes it
// first when now is set, and reads its stored health.
func (h *Handlers) regionHealth(ctx context.Context, id string, now bool) (api.RegionHealth, error) {
	p := transport.Principal(ctx)
	r, err := h.store.GetRegion(ctx, p.EnterpriseID, id, store.WithCerts)
	if err != nil {
		return api.RegionHealth{}, convert.RegionError(err, id)
	}
	var health region.Health
	if now {
		health, err = h.prober.ProbeNow(ctx, p.EnterpriseID, id)
	} else {
		health, err = h.store.RegionHealth(ctx, p.EnterpriseID, id)
	}
	if err != nil {
		return api.RegionHealth{}, convert.RegionError(err, id)
	}
	return convert.RegionHealth(health, h.prober.Certificates(r)), nil
}
