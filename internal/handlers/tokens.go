package handlers

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/convert"
	"github.com/regiond/regiond/internal/etag"
	"github.com/regiond/regiond/internal/problem"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/token"
	"github.com/regiond/regiond/internal/transport"
)

// CreateToken makes a token in the caller's enterprise, with no scope its creator lacks.
func (h *Handlers) CreateToken(ctx context.Context, req api.CreateTokenRequestObject) (api.CreateTokenResponseObject, error) {
	p := transport.Principal(ctx)
	b := req.Body
	var missing []string
	for _, sc := range b.Scopes {
		if !p.Has(token.Scope(sc)) {
			missing = append(missing, string(sc))
		}
	}
	if len(missing) > 0 {
		return nil, problem.Newf(http.StatusForbidden, "a token can grant only scopes its creator holds; yours lacks %s", strings.Join(missing, ", "))
	}
	expires, err := childExpiry(b.ExpiresAt, p.ExpiresAt, time.Now().UTC())
	if err != nil {
		return nil, err
	}
	t := token.Token{EnterpriseID: p.EnterpriseID, Scopes: convert.Scopes(b.Scopes), ExpiresAt: expires, CreatedBy: p.TokenID}
	if b.Note != nil {
		t.Note = *b.Note
	}
	t, secret := token.Mint(t, "")
	if err := h.store.CreateToken(ctx, t, auditEvent(ctx, store.OpTokenCreate)); err != nil {
		return nil, err
	}
	location := h.basePath + "/openapi/v1/tokens/" + t.ID
	return api.CreateToken201JSONResponse{Body: convert.TokenCreated(t, secret), Headers: api.CreateToken201ResponseHeaders{Location: &location}}, nil
}

// childExpiry is the expiry of a token made by a token expiring at parent (nil: never): the one
// asked for, which must be in the future, storable and no later than the parent's, or else the
// parent's. A token never outlives the token that made it.
func childExpiry(asked, parent *time.Time, now time.Time) (*time.Time, error) {
	if asked == nil {
		return parent, nil
	}
	exp := asked.UTC().Truncate(time.Microsecond)
	var why string
	switch {
	case !asked.After(now):
		why = "must be in the future"
	case !store.Storable(exp):
		why = "must be at most " + store.MaxTime.Format(time.RFC3339Nano) + " in UTC, the latest time the database can store"
	case parent != nil && exp.After(*parent):
		why = "cannot be later than the expiry of the token creating it (" + parent.Format(time.RFC3339Nano) + "); leave it out to expire with it"
	default:
		return &exp, nil
	}
	return nil, problem.WithFields(http.StatusUnprocessableEntity, problem.Field("expires_at", why))
}

// ListTokens lists the enterprise's tokens, newest first, a page at a time.
func (h *Handlers) ListTokens(ctx context.Context, req api.ListTokensRequestObject) (api.ListTokensResponseObject, error) {
	p := transport.Principal(ctx)
	pg, err := h.pages.Open(etag.Hash("tokens", p.EnterpriseID), req.Params.Limit, req.Params.PageToken)
	if err != nil {
		return nil, err
	}
	var after *store.TokenCursor
	if pg.After != "" {
		created, id, ok := strings.Cut(pg.After, "|")
		t, err := time.Parse(time.RFC3339Nano, created)
		if !ok || err != nil {
			return nil, transport.BadPageToken()
		}
		after = &store.TokenCursor{CreatedAt: t, ID: id}
	}
	toks, err := h.store.ListTokens(ctx, p.EnterpriseID, after, pg.Limit+1)
	if err != nil {
		return nil, err
	}
	resp := api.ListTokens200JSONResponse{Body: []api.Token{}}
	if len(toks) > pg.Limit {
		toks = toks[:pg.Limit]
		last := toks[pg.Limit-1]
		resp.Headers.Link = h.pages.Next(pg, "/openapi/v1/tokens", transport.LimitQuery(req.Params.Limit), last.CreatedAt.Format(time.RFC3339Nano)+"|"+last.ID)
	}
	for _, t := range toks {
		resp.Body = append(resp.Body, convert.Token(t))
	}
	return resp, nil
}

// GetToken reads one token's metadata.
func (h *Handlers) GetToken(ctx context.Context, req api.GetTokenRequestObject) (api.GetTokenResponseObject, error) {
	p := transport.Principal(ctx)
	t, err := h.store.GetToken(ctx, p.EnterpriseID, req.TokenId)
	if err != nil {
		return nil, convert.TokenError(err, req.TokenId)
	}
	return api.GetToken200JSONResponse{Body: convert.Token(t)}, nil
}

// RevokeToken revokes a token; it stops working at once on this replica and within the
// staleness bound on the others.
func (h *Handlers) RevokeToken(ctx context.Context, req api.RevokeTokenRequestObject) (api.RevokeTokenResponseObject, error) {
	p := transport.Principal(ctx)
	if _, err := h.store.RevokeToken(ctx, p.EnterpriseID, req.TokenId, auditEvent(ctx, store.OpTokenRevoke)); err != nil {
		return nil, convert.TokenError(err, req.TokenId)
	}
	h.tokens.Forget(req.TokenId)
	return api.RevokeToken204Response{}, nil
}
