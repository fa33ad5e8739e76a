package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/oapi-codegen/nullable"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/pagetoken"
	"github.com/regiond/regiond/internal/problem"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/token"
)

// auditEvent starts the audit record of a write by the caller of ctx.
func (s *Server) auditEvent(ctx context.Context, op string) store.AuditEvent {
	cl := callFrom(ctx)
	return store.AuditEvent{EnterpriseID: cl.principal.EnterpriseID, TokenID: cl.principal.TokenID, Operation: op, RequestID: cl.requestID}
}

// CreateToken makes a token in the caller's enterprise, with no scope its creator lacks.
func (s *Server) CreateToken(ctx context.Context, req api.CreateTokenRequestObject) (api.CreateTokenResponseObject, error) {
	p := principal(ctx)
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
	now := time.Now().UTC()
	expires, err := childExpiry(b.ExpiresAt, p.ExpiresAt, now)
	if err != nil {
		return nil, err
	}
	scopes := make([]token.Scope, len(b.Scopes))
	for i, sc := range b.Scopes {
		scopes[i] = token.Scope(sc)
	}
	secret := token.NewSecret()
	t := token.Token{ID: token.NewID(), EnterpriseID: p.EnterpriseID, Prefix: token.PrefixOf(secret), Hash: token.Hash(secret),
		Scopes: scopes, Note: deref(b.Note, ""), CreatedAt: now.Truncate(time.Microsecond), ExpiresAt: expires, CreatedBy: p.TokenID}
	ev := s.auditEvent(ctx, store.OpTokenCreate)
	ev.ChangedFields = []string{"scopes", "note", "expires_at"}
	if err := s.store.CreateToken(ctx, t, ev); err != nil {
		return nil, err
	}
	m := tokenToAPI(t)
	return api.CreateToken201JSONResponse{
		Body: api.TokenCreated{Id: m.Id, EnterpriseId: m.EnterpriseId, Prefix: m.Prefix, Scopes: m.Scopes, Note: m.Note,
			CreatedAt: m.CreatedAt, ExpiresAt: m.ExpiresAt, LastUsedAt: m.LastUsedAt, RevokedAt: m.RevokedAt, Token: secret},
		Headers: api.CreateToken201ResponseHeaders{Location: ptr(s.cfg.BasePath + "/openapi/v1/tokens/" + t.ID)},
	}, nil
}

func ptr[T any](v T) *T { return &v }

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

func tokenToAPI(t token.Token) api.Token {
	scopes := make([]api.Scope, len(t.Scopes))
	for i, sc := range t.Scopes {
		scopes[i] = api.Scope(sc)
	}
	return api.Token{Id: t.ID, EnterpriseId: t.EnterpriseID, Prefix: t.Prefix, Scopes: scopes, Note: t.Note,
		CreatedAt: t.CreatedAt, ExpiresAt: nullableTime(t.ExpiresAt), LastUsedAt: nullableTime(t.LastUsedAt),
		RevokedAt: nullableTime(t.RevokedAt)}
}

func nullableTime(t *time.Time) nullable.Nullable[time.Time] {
	if t == nil {
		return nullable.NewNullNullable[time.Time]()
	}
	return nullable.NewNullableWithValue(*t)
}

// ListTokens lists the enterprise's tokens, newest first, a page at a time.
func (s *Server) ListTokens(ctx context.Context, req api.ListTokensRequestObject) (api.ListTokensResponseObject, error) {
	p := principal(ctx)
	limit := int(deref(req.Params.Limit, defaultPageSize))
	fingerprint := pagetoken.Fingerprint("tokens", p.EnterpriseID)
	pos, err := s.position(fingerprint, req.Params.PageToken)
	if err != nil {
		return nil, err
	}
	var after *store.TokenCursor
	if pos != "" {
		created, id, ok := strings.Cut(pos, "|")
		t, err := time.Parse(time.RFC3339Nano, created)
		if !ok || err != nil {
			return nil, badPageToken()
		}
		after = &store.TokenCursor{CreatedAt: t, ID: id}
	}
	toks, err := s.store.ListTokens(ctx, p.EnterpriseID, after, limit+1)
	if err != nil {
		return nil, err
	}
	resp := api.ListTokens200JSONResponse{Body: []api.Token{}}
	if len(toks) > limit {
		toks = toks[:limit]
		last := toks[limit-1]
		next := s.pages.Encode(fingerprint, last.CreatedAt.Format(time.RFC3339Nano)+"|"+last.ID)
		resp.Headers.Link = ptr(s.nextLink("/openapi/v1/tokens", limitQuery(req.Params.Limit), next))
	}
	for _, t := range toks {
		resp.Body = append(resp.Body, tokenToAPI(t))
	}
	return resp, nil
}

// GetToken reads one token's metadata.
func (s *Server) GetToken(ctx context.Context, req api.GetTokenRequestObject) (api.GetTokenResponseObject, error) {
	p := principal(ctx)
	t, err := s.store.GetToken(ctx, p.EnterpriseID, req.TokenId)
	if errors.Is(err, store.ErrNotFound) {
		return nil, problem.Newf(http.StatusNotFound, "token %s does not exist", req.TokenId)
	}
	if err != nil {
		return nil, err
	}
	return api.GetToken200JSONResponse(tokenToAPI(t)), nil
}

// RevokeToken revokes a token; it stops working at once on this replica and within the
// staleness bound on the others.
func (s *Server) RevokeToken(ctx context.Context, req api.RevokeTokenRequestObject) (api.RevokeTokenResponseObject, error) {
	p := principal(ctx)
	_, err := s.store.RevokeToken(ctx, p.EnterpriseID, req.TokenId, s.auditEvent(ctx, store.OpTokenRevoke))
	if errors.Is(err, store.ErrNotFound) {
		return nil, problem.Newf(http.StatusNotFound, "token %s does not exist", req.TokenId)
	}
	if err != nil {
		return nil, err
	}
	s.auth.forget(req.TokenId)
	return api.RevokeToken204Response{}, nil
}
