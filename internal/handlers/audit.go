package handlers

import (
	"context"
	"strconv"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/convert"
	"github.com/regiond/regiond/internal/etag"
	"github.com/regiond/regiond/internal/transport"
)

// ListAuditEvents reads the enterprise's audit trail, newest first, a page at a time.
func (h *Handlers) ListAuditEvents(ctx context.Context, req api.ListAuditEventsRequestObject) (api.ListAuditEventsResponseObject, error) {
	p := transport.Principal(ctx)
	limit := transport.Limit(req.Params.Limit)
	fingerprint := etag.Hash("audit", p.EnterpriseID)
	pos, err := h.pages.Position(fingerprint, req.Params.PageToken)
	if err != nil {
		return nil, err
	}
	var before int64
	if pos != "" {
		if before, err = strconv.ParseInt(pos, 10, 64); err != nil {
			return nil, transport.BadPageToken()
		}
	}
	events, err := h.store.ListAudit(ctx, p.EnterpriseID, before, limit+1)
	if err != nil {
		return nil, err
	}
	resp := api.ListAuditEvents200JSONResponse{Body: []api.AuditEvent{}}
	if len(events) > limit {
		events = events[:limit]
		link := h.pages.NextLink("/openapi/v1/audit", transport.LimitQuery(req.Params.Limit), fingerprint, strconv.FormatInt(events[limit-1].ID, 10))
		resp.Headers.Link = &link
	}
	for _, e := range events {
		resp.Body = append(resp.Body, convert.AuditEvent(e))
	}
	return resp, nil
}
