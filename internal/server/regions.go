package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/apispec"
	"github.com/regiond/regiond/internal/listcache"
	"github.com/regiond/regiond/internal/pagetoken"
	"github.com/regiond/regiond/internal/problem"
	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/secrets"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/token"
)

// defaultPageSize applies when page_token is given without limit.
const defaultPageSize = 100

// ListRegions serves the seed's call. The bare list (no query) comes from the pre-encoded
// snapshot, or is streamed from the database when it is too large to keep; filtered lists are
// streamed (streams.go); paged lists are read a page at a time with a keyset cursor.
func (s *Server) ListRegions(ctx context.Context, req api.ListRegionsRequestObject) (api.ListRegionsResponseObject, error) {
	p := principal(ctx)
	v := listView(p)
	params := req.Params
	q := store.RegionQuery{EnterpriseID: p.EnterpriseID, Reading: v.reading, Text: deref(params.Q, "")}
	if params.Status != nil {
		for _, st := range *params.Status {
			q.Statuses = append(q.Statuses, region.Status(st))
		}
		slices.Sort(q.Statuses)
		q.Statuses = slices.Compact(q.Statuses)
	}
	if params.Scope != nil {
		q.Scope = region.Scope(*params.Scope)
	}
	paged := params.Limit != nil || params.PageToken != nil
	if !paged && len(q.Statuses) == 0 && q.Scope == "" && q.Text == "" {
		// The seed's call, the hottest of the service: a lookup and a write of bytes.
		key := listcache.Key{Enterprise: p.EnterpriseID, View: v.name}
		e, err := s.cache.Load(key, func() (*listcache.Entry, error) { return s.buildList(ctx, key, q, v) })
		if err != nil {
			return nil, err
		}
		if !e.TooLarge() {
			if noneMatch(params.IfNoneMatch, e.ETag) {
				return api.ListRegions304Response{Headers: api.NotModifiedResponseHeaders{ETag: &e.ETag}}, nil
			}
			return (*cachedList)(e), nil // a pointer: returning it allocates nothing
		}
	}
	// The query, less what may change from page to page: a page token is only good for it.
	fingerprint := pagetoken.Fingerprint("regions", p.EnterpriseID, v.name, string(q.Scope), q.Text, strings.Join(statusStrings(q.Statuses), ","))
	if paged {
		return s.regionPage(ctx, q, v, fingerprint, params)
	}
	return streamedList{s: s, ctx: ctx, q: q, v: v, tokenID: p.TokenID, fingerprint: fingerprint, ifNoneMatch: params.IfNoneMatch}, nil
}

func statusStrings(st []region.Status) []string {
	out := make([]string, len(st))
	for i, s := range st {
		out[i] = string(s)
	}
	return out
}

var errTooLarge = errors.New("list too large to keep")

// minRegionJSON is the fewest bytes a region takes in a list: its 13 members with one-letter
// values and nulls. A list of n regions takes at least n times this.
const minRegionJSON = 220

// buildList encodes an enterprise's whole list at one generation. Memory stays bounded at any
// size: a list whose count, times the bytes a region took last time (at least minRegionJSON),
// exceeds the cache's entry limit is not encoded at all, and an encoding that outgrows the limit
// stops; the entry then records only that the list is too large, and it is streamed.
func (s *Server) buildList(ctx context.Context, key listcache.Key, q store.RegionQuery, v view) (*listcache.Entry, error) {
	perRegion := int64(minRegionJSON)
	if last := s.cache.Latest(key); last != nil && last.BytesPerRegion > perRegion {
		perRegion = last.BytesPerRegion
	}
	var e *listcache.Entry
	err := s.store.View(ctx, func(tx *store.Store) error {
		gen, err := tx.Generation(ctx, q.EnterpriseID)
		if err != nil {
			return err
		}
		count, err := tx.CountRegions(ctx, q)
		if err != nil {
			return err
		}
		if count*perRegion > s.cache.MaxEntry {
			e = &listcache.Entry{Generation: gen, Count: count, BytesPerRegion: perRegion}
			return nil
		}
		buf := bytes.NewBuffer(make([]byte, 0, count*perRegion+2))
		buf.WriteByte('[')
		var n int64
		err = tx.EachRegion(ctx, q, func(r region.Region) error {
			if int64(buf.Len()) > s.cache.MaxEntry {
				return errTooLarge
			}
			if n > 0 {
				buf.WriteByte(',')
			}
			n++
			return appendJSON(buf, v.toAPI(r))
		})
		if errors.Is(err, errTooLarge) {
			e = &listcache.Entry{Generation: gen, Count: count, BytesPerRegion: int64(buf.Len()) / n}
			return nil
		}
		if err != nil {
			return err
		}
		buf.WriteByte(']')
		e = listcache.NewEntry(gen, buf.Bytes(), n, listETag(q.EnterpriseID, strconv.FormatInt(gen, 10), v.name))
		return nil
	})
	return e, err
}

func appendJSON(buf *bytes.Buffer, v any) error {
	b, err := json.Marshal(v)
	buf.Write(b)
	return err
}

// listResponse writes a list that is already encoded, with header values made once per entry.
type listResponse struct {
	entry       *listcache.Entry
	link        string
	notModified bool
}

func (l listResponse) VisitListRegionsResponse(w http.ResponseWriter) error {
	h, e := w.Header(), l.entry
	h["Etag"] = e.ETagHeader
	if l.notModified {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h["Content-Type"] = jsonContentType
	h["X-Total-Count"] = e.CountHeader
	h["Content-Length"] = e.LengthHeader
	if l.link != "" {
		h["Link"] = []string{l.link}
	}
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(e.Body)
	return err
}

var jsonContentType = []string{"application/json"}

// cachedList writes a cached list as it is.
type cachedList listcache.Entry

func (l *cachedList) VisitListRegionsResponse(w http.ResponseWriter) error {
	return listResponse{entry: (*listcache.Entry)(l)}.VisitListRegionsResponse(w)
}

// regionPage reads one page of a list with a keyset cursor: the regions whose name sorts after
// the last one of the previous page. X-Total-Count is counted once per generation and query.
func (s *Server) regionPage(ctx context.Context, q store.RegionQuery, v view, fingerprint string, params api.ListRegionsParams) (api.ListRegionsResponseObject, error) {
	limit := defaultPageSize
	if params.Limit != nil {
		limit = int(*params.Limit)
	}
	pageToken := deref(params.PageToken, "")
	after, err := s.position(fingerprint, params.PageToken)
	if err != nil {
		return nil, err
	}
	q.After = after
	q.Limit = limit + 1 // one more tells whether a next page exists
	// The generation names the data in the page's ETag and keys its X-Total-Count. It is read
	// before the rows, so a tag is never newer than its page; the cache knows it without a query
	// (exactly after this replica's writes, within the staleness bound after other replicas').
	gen, known := s.cache.Known(q.EnterpriseID)
	count, counted := s.cache.Count(q.EnterpriseID, fingerprint, gen)
	if !known || !counted {
		err := s.store.View(ctx, func(tx *store.Store) error {
			var err error
			if gen, err = tx.Generation(ctx, q.EnterpriseID); err != nil {
				return err
			}
			count, err = tx.CountRegions(ctx, q)
			return err
		})
		if err != nil {
			return nil, err
		}
		s.cache.PutCount(q.EnterpriseID, fingerprint, gen, count)
	}
	page, err := s.store.ListRegions(ctx, q)
	if err != nil {
		return nil, err
	}
	etag := listETag(q.EnterpriseID, strconv.FormatInt(gen, 10), fingerprint, pageToken, strconv.Itoa(limit))
	var resp listResponse
	if len(page) > limit {
		page = page[:limit]
		resp.link = s.nextLink("/openapi/v1/regions", regionQuery(params), s.pages.Encode(fingerprint, page[limit-1].RegionName))
	}
	buf := bytes.NewBuffer(make([]byte, 0, 512*len(page)+2))
	buf.WriteByte('[')
	for i, r := range page {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := appendJSON(buf, v.toAPI(r)); err != nil {
			return nil, err
		}
	}
	buf.WriteByte(']')
	resp.entry = listcache.NewEntry(gen, buf.Bytes(), count, etag)
	resp.notModified = noneMatch(params.IfNoneMatch, etag)
	return resp, nil
}

// GetRegion reads one region.
func (s *Server) GetRegion(ctx context.Context, req api.GetRegionRequestObject) (api.GetRegionResponseObject, error) {
	p := principal(ctx)
	v := detailView(p)
	r, err := s.store.GetRegion(ctx, p.EnterpriseID, req.RegionId, v.reading)
	if err != nil {
		return nil, regionError(err, req.RegionId)
	}
	body, etag := present(p, r)
	if noneMatch(req.Params.IfNoneMatch, etag) {
		return api.GetRegion304Response{Headers: api.NotModifiedResponseHeaders{ETag: &etag}}, nil
	}
	return api.GetRegion200JSONResponse{Body: body, Headers: api.GetRegion200ResponseHeaders{ETag: &etag}}, nil
}

// CreateRegion adds a region with a server-made id.
func (s *Server) CreateRegion(ctx context.Context, req api.CreateRegionRequestObject) (api.CreateRegionResponseObject, error) {
	p := principal(ctx)
	b := req.Body
	if err := s.mayWriteTLS(p, setsTLS(b.SslCaCert, b.CertFile, b.KeyFile)); err != nil {
		return nil, err
	}
	r := apispec.NewRegion(*b)
	r.EnterpriseID, r.RegionID = p.EnterpriseID, uuid.NewString()
	if err := s.checkRegion(r); err != nil {
		return nil, err
	}
	ev := s.auditEvent(ctx, store.OpRegionCreate)
	ev.ChangedFields = region.ChangedFields(region.Region{}, r)
	w, err := s.store.CreateRegion(ctx, r, ev)
	if err != nil {
		return nil, regionError(err, r.RegionID)
	}
	s.cache.Observe(p.EnterpriseID, w.Generation)
	body, etag := present(p, w.Region)
	location := s.cfg.BasePath + "/openapi/v1/regions/" + w.Region.RegionID
	return created{api.CreateRegion201JSONResponse{Body: body, Headers: api.CreateRegion201ResponseHeaders{ETag: &etag, Location: &location}}, w.Warnings}, nil
}

// ReplaceRegion replaces every field a caller can see.
func (s *Server) ReplaceRegion(ctx context.Context, req api.ReplaceRegionRequestObject) (api.ReplaceRegionResponseObject, error) {
	b := req.Body
	body, etag, warnings, err := s.changeRegion(ctx, req.RegionId, req.Params.IfMatch, setsTLS(b.SslCaCert, b.CertFile, b.KeyFile), store.OpRegionReplace,
		func(p token.Principal, cur region.Region) (region.Region, error) {
			if b.RegionName != cur.RegionName {
				return cur, renameError(cur.RegionName)
			}
			// A replacement is a create body applied to the stored region's identity.
			next := apispec.NewRegion(api.RegionCreate(*b))
			next.EnterpriseID, next.RegionID, next.CreateTime, next.Version = cur.EnterpriseID, cur.RegionID, cur.CreateTime, cur.Version
			if !p.Has(token.RegionsSecrets) {
				next.SSLCACert, next.CertFile, next.KeyFile = cur.SSLCACert, cur.CertFile, cur.KeyFile
			}
			return next, nil
		})
	if err != nil {
		return nil, err
	}
	return replaced{api.ReplaceRegion200JSONResponse{Body: body, Headers: api.ReplaceRegion200ResponseHeaders{ETag: &etag}}, warnings}, nil
}

// UpdateRegion applies a JSON merge patch.
func (s *Server) UpdateRegion(ctx context.Context, req api.UpdateRegionRequestObject) (api.UpdateRegionResponseObject, error) {
	b := req.Body
	body, etag, warnings, err := s.changeRegion(ctx, req.RegionId, req.Params.IfMatch, setsTLS(b.SslCaCert, b.CertFile, b.KeyFile), store.OpRegionUpdate,
		func(p token.Principal, cur region.Region) (region.Region, error) {
			if b.RegionName != nil && *b.RegionName != cur.RegionName {
				return cur, renameError(cur.RegionName)
			}
			next := cur
			set := func(dst *string, src *string) {
				if src != nil {
					*dst = *src
				}
			}
			set(&next.RegionAlias, b.RegionAlias)
			set(&next.URL, b.Url)
			set(&next.WSURL, b.Wsurl)
			set(&next.HTTPDomain, b.Httpdomain)
			set(&next.TCPDomain, b.Tcpdomain)
			set(&next.Desc, b.Desc)
			if b.Status != nil {
				next.Status = region.Status(*b.Status)
			}
			if b.Scope != nil {
				next.Scope = region.Scope(*b.Scope)
			}
			if p.Has(token.RegionsSecrets) {
				for _, f := range []struct {
					dst *(*string)
					src nullable.Nullable[string]
				}{{&next.SSLCACert, b.SslCaCert}, {&next.CertFile, b.CertFile}, {&next.KeyFile, b.KeyFile}} {
					if f.src.IsSpecified() { // absent: unchanged; null: cleared
						*f.dst = apispec.TLSValue(f.src)
					}
				}
			}
			return next, nil
		})
	if err != nil {
		return nil, err
	}
	return updated{api.UpdateRegion200JSONResponse{Body: body, Headers: api.UpdateRegion200ResponseHeaders{ETag: &etag}}, warnings}, nil
}

// changeRegion runs one change of a stored region with what every such write does: the TLS
// scope rule, If-Match, the checks the schema cannot express, the audit event, the list cache,
// and the result as the caller may see it, with its tag and warnings.
func (s *Server) changeRegion(ctx context.Context, id string, ifMatch *string, setsTLS bool, op string,
	change func(p token.Principal, cur region.Region) (region.Region, error)) (api.RegionInfoResp, string, []string, error) {
	p := principal(ctx)
	if err := s.mayWriteTLS(p, setsTLS); err != nil {
		return api.RegionInfoResp{}, "", nil, err
	}
	check, err := s.versionCheck(ifMatch)
	if err != nil {
		return api.RegionInfoResp{}, "", nil, err
	}
	// The change sees, and can change, only the TLS fields the caller may see: for everyone else
	// the stored ones are kept as they are, without decrypting key_file.
	w, err := s.store.UpdateRegion(ctx, p.EnterpriseID, id, detailView(p).reading, check, func(cur region.Region) (region.Region, error) {
		next, err := change(p, cur)
		if err != nil {
			return cur, err
		}
		return next, s.checkRegion(next)
	}, s.auditEvent(ctx, op))
	if err != nil {
		return api.RegionInfoResp{}, "", nil, regionError(err, id)
	}
	s.cache.Observe(p.EnterpriseID, w.Generation)
	body, etag := present(p, w.Region)
	return body, etag, w.Warnings, nil
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

// present is a region as the caller may see it, and that representation's tag.
func present(p token.Principal, r region.Region) (api.RegionInfoResp, string) {
	v := detailView(p)
	return v.toAPI(r), regionETag(r.Version, v == secretsView)
}

// DeleteRegion removes a region.
func (s *Server) DeleteRegion(ctx context.Context, req api.DeleteRegionRequestObject) (api.DeleteRegionResponseObject, error) {
	p := principal(ctx)
	check, err := s.versionCheck(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	gen, err := s.store.DeleteRegion(ctx, p.EnterpriseID, req.RegionId, check, s.auditEvent(ctx, store.OpRegionDelete))
	if err != nil {
		return nil, regionError(err, req.RegionId)
	}
	s.cache.Observe(p.EnterpriseID, gen)
	return api.DeleteRegion204Response{}, nil
}

// mayWriteTLS refuses TLS values from callers who cannot see TLS material. (null is allowed: a
// body read with GET can be sent back as it is, and leaves the stored material alone.)
func (s *Server) mayWriteTLS(p token.Principal, setsTLS bool) error {
	if setsTLS && !p.Has(token.RegionsSecrets) {
		return problem.New(http.StatusForbidden, "setting ssl_ca_cert, cert_file or key_file needs the regions:secrets scope")
	}
	return nil
}

// checkRegion applies the rules the schema cannot express.
func (s *Server) checkRegion(r region.Region) error {
	errs := region.Validate(r)
	if r.KeyFile != nil && !s.store.Keyring().Enabled() {
		errs = append(errs, problem.Field("key_file", "cannot be stored: this server has no encryption key configured (REGIOND_SECRET_KEY), and key_file is only ever stored encrypted"))
	}
	if len(errs) > 0 {
		return problem.WithFields(http.StatusUnprocessableEntity, errs...)
	}
	return nil
}

func renameError(current string) error {
	return problem.WithFields(http.StatusUnprocessableEntity,
		problem.Field("region_name", "cannot be changed (it is "+strconv.Quote(current)+"): Rainbond identifies clusters by name"))
}

// regionError words the store's errors about one region.
func regionError(err error, id string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return problem.Newf(http.StatusNotFound, "region %s does not exist", id)
	case errors.Is(err, store.ErrVersionMismatch):
		return problem.New(http.StatusPreconditionFailed, "the region changed since it was read (If-Match does not match); read it again and retry")
	case errors.Is(err, store.ErrConflict):
		return problem.WithFields(http.StatusConflict, problem.Field("region_name", "a region with this name already exists in the enterprise"))
	case errors.Is(err, secrets.ErrNoKey):
		return problem.WithFields(http.StatusUnprocessableEntity, problem.Field("key_file", secrets.ErrNoKey.Error()))
	}
	return err
}
