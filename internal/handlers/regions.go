package handlers

import (
	"context"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/apispec"
	"github.com/regiond/regiond/internal/convert"
	"github.com/regiond/regiond/internal/etag"
	"github.com/regiond/regiond/internal/problem"
	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/token"
	"github.com/regiond/regiond/internal/transport"
)

// ListRegions serves Rainbond's list call and its filtered and paged forms: the list room's
// business (internal/regionlist).
func (h *Handlers) ListRegions(ctx context.Context, req api.ListRegionsRequestObject) (api.ListRegionsResponseObject, error) {
	return h.lists.List(ctx, transport.Principal(ctx), req.Params)
}

// GetRegion reads one region, named by its id or (Rainbond's detail call) its name; with
// extend_info=true, with what the health prober last stored of it.
func (h *Handlers) GetRegion(ctx context.Context, req api.GetRegionRequestObject) (api.GetRegionResponseObject, error) {
	p := transport.Principal(ctx)
	v := convert.DetailView(p)
	r, err := h.store.GetRegionByIDOrName(ctx, p.EnterpriseID, req.RegionId, v.Reading)
	if err != nil {
		return nil, convert.RegionError(err, req.RegionId)
	}
	body, tag := v.Detail(r), v.ETag(r.Version)
	if req.Params.ExtendInfo != nil && *req.Params.ExtendInfo {
		health, err := h.store.RegionHealth(ctx, p.EnterpriseID, r.RegionID)
		if err != nil {
			return nil, convert.RegionError(err, req.RegionId)
		}
		body = v.Extended(r, health)
		tag = v.ExtendedETag(r.Version, body)
	}
	if req.Params.IfNoneMatch != nil && etag.NoneMatch(*req.Params.IfNoneMatch, tag) {
		return api.GetRegion304Response{Headers: api.NotModifiedResponseHeaders{ETag: &tag}}, nil
	}
	return api.GetRegion200JSONResponse{Body: body, Headers: api.GetRegion200ResponseHeaders{ETag: &tag}}, nil
}

// CreateRegion adds a region with a server-made id.
func (h *Handlers) CreateRegion(ctx context.Context, req api.CreateRegionRequestObject) (api.CreateRegionResponseObject, error) {
	p := transport.Principal(ctx)
	r := apispec.NewRegion(*req.Body)
	if err := mayWriteTLS(p, r.SSLCACert != nil || r.CertFile != nil || r.KeyFile != nil); err != nil {
		return nil, err
	}
	r.EnterpriseID, r.RegionID = p.EnterpriseID, uuid.NewString()
	w, err := h.store.CreateRegion(ctx, r, auditEvent(ctx, store.OpRegionCreate))
	if err != nil {
		return nil, convert.RegionError(err, r.RegionID)
	}
	h.lists.Wrote(p.EnterpriseID, w.Generation)
	v := convert.DetailView(p)
	tag, location := v.ETag(w.Region.Version), h.basePath+"/openapi/v1/regions/"+w.Region.RegionID
	return created{api.CreateRegion201JSONResponse{Body: v.Region(w.Region),
		Headers: api.CreateRegion201ResponseHeaders{ETag: &tag, Location: &location}}, w.Warnings}, nil
}

// ReplaceRegion replaces every field a caller can see.
func (h *Handlers) ReplaceRegion(ctx context.Context, req api.ReplaceRegionRequestObject) (api.ReplaceRegionResponseObject, error) {
	w, err := h.change(ctx, req.RegionId, req.Params.IfMatch, store.OpRegionReplace, convert.Replacement(*req.Body))
	if err != nil {
		return nil, err
	}
	return replaced{api.ReplaceRegion200JSONResponse{Body: w.body, Headers: api.ReplaceRegion200ResponseHeaders{ETag: &w.tag}}, w.warnings}, nil
}

// UpdateRegion applies a JSON merge patch, sent as application/merge-patch+json or as
// application/json (the validator has checked it is one of them, and normalised its Content-Type).
func (h *Handlers) UpdateRegion(ctx context.Context, req api.UpdateRegionRequestObject) (api.UpdateRegionResponseObject, error) {
	body := req.ApplicationMergePatchPlusJSONBody
	if body == nil {
		body = req.JSONBody
	}
	w, err := h.change(ctx, req.RegionId, req.Params.IfMatch, store.OpRegionUpdate, convert.Patch(*body))
	if err != nil {
		return nil, err
	}
	return updated{api.UpdateRegion200JSONResponse{Body: w.body, Headers: api.UpdateRegion200ResponseHeaders{ETag: &w.tag}}, w.warnings}, nil
}

// changed is a changed region as the caller may see it, with its tag and warnings.
type changed struct {
	body     api.RegionInfoResp
	tag      string
	warnings []string
}

// change makes one change of a stored region with what every such write does: the TLS scope
// rule, If-Match, the audit event, the list room told of the write, and the result as the caller
// may see it. The change sees, and can change, only the TLS fields the caller may see: for
// everyone else the stored ones are kept as they are, without decrypting key_file.
func (h *Handlers) change(ctx context.Context, id string, ifMatch *string, op string, change region.Change) (changed, error) {
	p := transport.Principal(ctx)
	if err := mayWriteTLS(p, change.SetsTLS()); err != nil {
		return changed{}, err
	}
	pre, err := convert.Precondition(ifMatch, h.requireIfMatch)
	if err != nil {
		return changed{}, err
	}
	v := convert.DetailView(p)
	if v.Reading < store.WithSecrets {
		change = change.WithoutTLS()
	}
	w, err := h.store.UpdateRegion(ctx, p.EnterpriseID, id, v.Reading, pre, change, auditEvent(ctx, op))
	if err != nil {
		return changed{}, convert.RegionError(err, id)
	}
	h.lists.Wrote(p.EnterpriseID, w.Generation)
	return changed{v.Region(w.Region), v.ETag(w.Region.Version), w.Warnings}, nil
}

// DeleteRegion removes a region.
func (h *Handlers) DeleteRegion(ctx context.Context, req api.DeleteRegionRequestObject) (api.DeleteRegionResponseObject, error) {
	p := transport.Principal(ctx)
	pre, err := convert.Precondition(req.Params.IfMatch, h.requireIfMatch)
	if err != nil {
		return nil, err
	}
	gen, err := h.store.DeleteRegion(ctx, p.EnterpriseID, req.RegionId, pre, auditEvent(ctx, store.OpRegionDelete))
	if err != nil {
		return nil, convert.RegionError(err, req.RegionId)
	}
	h.lists.Wrote(p.EnterpriseID, gen)
	return api.DeleteRegion204Response{}, nil
}

// mayWriteTLS refuses TLS values from callers who cannot see TLS material. (null is allowed: a
// body read with GET can be sent back as it is, and leaves the stored material alone.)
func mayWriteTLS(p token.Principal, setsTLS bool) error {
	if setsTLS && !p.Has(token.RegionsSecrets) {
		return problem.New(http.StatusForbidden, "setting ssl_ca_cert, cert_file or key_file needs the regions:secrets scope")
	}
	return nil
}

// The responses of region writes, with one Warning header per warning (RFC 7234 section 5.5, as
// Kubernetes sends them): the generated types can send only one. The warnings are about the TLS
// fields of the region written, which only the callers who may see them read and write.
type (
	created struct {
		api.CreateRegion201JSONResponse
		warnings []string
	}
	replaced struct {
		api.ReplaceRegion200JSONResponse
		warnings []string
	}
	updated struct {
		api.UpdateRegion200JSONResponse
		warnings []string
	}
)

func (r created) VisitCreateRegionResponse(w http.ResponseWriter) error {
	addWarnings(w, r.warnings)
	return r.CreateRegion201JSONResponse.VisitCreateRegionResponse(w)
}

func (r replaced) VisitReplaceRegionResponse(w http.ResponseWriter) error {
	addWarnings(w, r.warnings)
	return r.ReplaceRegion200JSONResponse.VisitReplaceRegionResponse(w)
}

func (r updated) VisitUpdateRegionResponse(w http.ResponseWriter) error {
	addWarnings(w, r.warnings)
	return r.UpdateRegion200JSONResponse.VisitUpdateRegionResponse(w)
}

// addWarnings adds `Warning: 299 - "text"` headers: 299 is a persistent warning, - an unnamed
// agent, and the text a quoted string (warnings hold no control characters).
func addWarnings(w http.ResponseWriter, warnings []string) {
	for _, text := range warnings {
		w.Header().Add("Warning", `299 - "`+warningEscaper.Replace(text)+`"`)
	}
}

var warningEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)
