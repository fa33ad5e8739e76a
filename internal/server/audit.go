package server

import (
	"context"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/pagetoken"
	"github.com/regiond/regiond/internal/store"
)

// ListAuditEvents reads the enterprise's audit trail, newest first, a page at a time.
func (s *Server) ListAuditEvents(ctx context.Context, req api.ListAuditEventsRequestObject) (api.ListAuditEventsResponseObject, error) {
	p := principal(ctx)
	limit := int(deref(req.Params.Limit, defaultPageSize))
	fingerprint := pagetoken.Fingerprint("audit", p.EnterpriseID)
	pos, err := s.position(fingerprint, req.Params.PageToken)
	if err != nil {
		return nil, err
	}
	var after *store.AuditCursor
	if pos != "" {
		c, err := store.ParseAuditCursor(pos)
		if err != nil {
			return nil, badPageToken()
		}
		after = &c
	}
	events, err := s.store.ListAudit(ctx, p.EnterpriseID, after, limit+1)
	if err != nil {
		return nil, err
	}
	resp := api.ListAuditEvents200JSONResponse{Body: []api.AuditEvent{}}
	if len(events) > limit {
		events = events[:limit]
		next := s.pages.Encode(fingerprint, events[limit-1].Cursor().String())
		resp.Headers.Link = ptr(s.nextLink("/openapi/v1/audit", limitQuery(req.Params.Limit), next))
	}
	for _, e := range events {
		fields := e.ChangedFields
		if fields == nil {
			fields = []string{}
		}
		ev := api.AuditEvent{Id: e.ID, Time: e.Time, EnterpriseId: e.EnterpriseID, TokenId: e.TokenID,
			Operation: api.AuditEventOperation(e.Operation), TargetId: e.TargetID, ChangedFields: fields, RequestId: e.RequestID}
		if len(e.Warnings) > 0 {
			ev.Warnings = &e.Warnings
		}
		resp.Body = append(resp.Body, ev)
	}
	return resp, nil
}
