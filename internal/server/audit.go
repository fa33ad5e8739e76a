package server

import (
	"context"
	"net/http"
	"strconv"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/pagetoken"
	"github.com/regiond/regiond/internal/problem"
)

// ListAuditEvents reads the enterprise's audit trail, newest first, a page at a time.
func (s *Server) ListAuditEvents(ctx context.Context, req api.ListAuditEventsRequestObject) (api.ListAuditEventsResponseObject, error) {
	p := principal(ctx)
	limit := int(deref(req.Params.Limit, defaultPageSize))
	fingerprint := pagetoken.Fingerprint("audit", p.EnterpriseID)
	var before int64
	if req.Params.PageToken != nil {
		pos, err := s.pages.Decode(fingerprint, *req.Params.PageToken)
		if err == nil {
			before, err = strconv.ParseInt(pos, 10, 64)
		}
		if err != nil {
			return nil, problem.WithFields(http.StatusBadRequest, problem.Field("page_token", pagetoken.ErrInvalid.Error()))
		}
	}
	events, err := s.store.ListAudit(ctx, p.EnterpriseID, before, limit+1)
	if err != nil {
		return nil, err
	}
	resp := api.ListAuditEvents200JSONResponse{Body: []api.AuditEvent{}}
	if len(events) > limit {
		events = events[:limit]
		next := s.pages.Encode(fingerprint, strconv.FormatInt(events[limit-1].ID, 10))
		resp.Headers.Link = ptr(s.nextLink("/openapi/v1/audit", next, req.Params.Limit))
	}
	for _, e := range events {
		fields := e.ChangedFields
		if fields == nil {
			fields = []string{}
		}
		resp.Body = append(resp.Body, api.AuditEvent{Id: e.ID, Time: e.Time, EnterpriseId: e.EnterpriseID, TokenId: e.TokenID,
			Operation: api.AuditEventOperation(e.Operation), TargetId: e.TargetID, ChangedFields: fields, RequestId: e.RequestID})
	}
	return resp, nil
}
