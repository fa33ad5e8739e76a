package handlers

import (
	"context"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/convert"
	"github.com/regiond/regiond/internal/etag"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/transport"
)

// ListAuditEvents reads the enterprise's audit trail, newest first, a page at a time.
func (h *Handlers) ListAuditEvents(ctx context.Context, req api.ListAuditEventsRequestObject) (api.ListAuditEventsResponseObject, error) {
	p := transport.Principal(ctx)
	pg, err := h.pages.Open(etag.Hash("audit", p.EnterpriseID), req.Params.Limit, req.Params.PageToken)
	if err != nil {
		return nil, err
	}
	var after *store.AuditCursor
	if pg.After != "" {
		c, err := store.ParseAuditCursor(pg.After)
		if err != nil {
			return nil, transport.BadPageToken()
		}
		after = &c
	}
	events, err := h.store.ListAudit(ctx, p.EnterpriseID, after, pg.Limit+1)
	if err != nil {
		return nil, err
	}
	resp := api.ListAuditEvents200JSONResponse{Body: []api.AuditEvent{}}
	if len(events) > pg.Limit {
		events = events[:pg.Limit]
		resp.Headers.Link = h.pages.Next(pg, "/openapi/v1/audit", transport.LimitQuery(req.Params.Limit), events[pg.Limit-1].Cursor().String())
	}
	for _, e := range events {
		resp.Body = append(resp.Body, convert.AuditEvent(e))
	}
	return resp, nil
}
