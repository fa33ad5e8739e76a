package transport

import (
	"context"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/regiond/regiond/internal/problem"
	"github.com/regiond/regiond/internal/token"
)

// Authorizer decides whether the caller of a request may make it: a valid token, within its rate
// limit, holding every scope the operation's x-required-scopes names. It runs before anything
// else reads the request, so that nothing about a request is revealed to a caller who may not make
// it.
type Authorizer struct {
	Tokens   *Authenticator
	Requests *Limiter // each token's request rate
}

// Authorize authorizes r for the operation of route, recording the caller in the RequestInfo ctx
// carries (see Validator.Check). Reads of regions a caller sees without TLS material may be kept
// by the caller's private cache; every other response says no-store.
func (a *Authorizer) Authorize(ctx context.Context, r *http.Request, route *routers.Route) error {
	info := Info(ctx)
	p, err := a.Tokens.Authenticate(ctx, first(r.Header, "Authorization"), info.client(r))
	if err != nil {
		return err
	}
	info.Principal = p
	if err := a.Requests.Allow(p.TokenID); err != nil {
		return err
	}
	scopes, _ := route.Operation.Extensions["x-required-scopes"].([]any) // checked at start: strings
	for _, sc := range scopes {
		if !p.Has(token.Scope(sc.(string))) {
			return problem.Newf(http.StatusForbidden, "this operation needs the %s scope", sc)
		}
	}
	if id := route.Operation.OperationID; (id == "listRegions" || id == "getRegion") && !p.Has(token.RegionsSecrets) {
		info.header["Cache-Control"] = privateNoCache
	}
	return nil
}

// AuthenticationFunc is Authorize as kin-openapi's authentication hook (Check passes it the
// context that carries the RequestInfo).
func (a *Authorizer) AuthenticationFunc(ctx context.Context, in *openapi3filter.AuthenticationInput) error {
	return a.Authorize(ctx, in.RequestValidationInput.Request, in.RequestValidationInput.Route)
}
