// Package handlers implements the generated API (gen/api's StrictServerInterface), like the
// petstore example's server: each handler decodes its request, calls the store (or, for lists,
// the list room), converts the result and returns it. Authentication, validation, errors, logs
// and metrics happen around them (internal/transport).
package handlers

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/health"
	"github.com/regiond/regiond/internal/problem"
	"github.com/regiond/regiond/internal/regionlist"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/transport"
)

// Handlers serve the API's operations.
type Handlers struct {
	store          *store.Store
	lists          *regionlist.Room
	tokens         *transport.Authenticator
	pages          transport.Pages
	basePath       string
	requireIfMatch bool
	prober         *health.Prober
	draining       atomic.Bool
}

var _ api.StrictServerInterface = (*Handlers)(nil)

// Options are what the handlers are built from.
type Options struct {
	Store  *store.Store
	Lists  *regionlist.Room
	Tokens *transport.Authenticator
	Pages  transport.Pages
	// BasePath prefixes the Location of created resources.
	BasePath string
	// RequireIfMatch answers 428 to writes without If-Match.
	RequireIfMatch bool
	// Prober probes a region on demand and describes its certificates.
	Prober *health.Prober
}

// New makes the handlers.
func New(o Options) *Handlers {
	return &Handlers{store: o.Store, lists: o.Lists, tokens: o.Tokens, pages: o.Pages, basePath: o.BasePath, requireIfMatch: o.RequireIfMatch,
		prober: o.Prober}
}

// SetDraining makes readiness fail from now on: the process is shutting down.
func (h *Handlers) SetDraining() { h.draining.Store(true) }

// Draining reports whether SetDraining was called.
func (h *Handlers) Draining() bool { return h.draining.Load() }

// GetHealth answers while the process is up; it does not touch the database.
func (h *Handlers) GetHealth(context.Context, api.GetHealthRequestObject) (api.GetHealthResponseObject, error) {
	return api.GetHealth200JSONResponse{Body: api.Health{Status: api.Ok}}, nil
}

// GetReadiness answers 200 while the database answers a ping within a second.
func (h *Handlers) GetReadiness(ctx context.Context, _ api.GetReadinessRequestObject) (api.GetReadinessResponseObject, error) {
	if h.draining.Load() {
		return nil, problem.Unavailable("this replica is shutting down", 1, nil)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := h.store.Ping(ctx); err != nil {
		return nil, problem.Unavailable("the database is not reachable", 1, err)
	}
	return api.GetReadiness200JSONResponse{Body: api.Health{Status: api.Ok}}, nil
}

// auditEvent starts the audit record of a write by the caller of ctx.
func auditEvent(ctx context.Context, op string) store.AuditEvent {
	info := transport.Info(ctx)
	return store.AuditEvent{EnterpriseID: info.Principal.EnterpriseID, TokenID: info.Principal.TokenID, Operation: op, RequestID: info.ID}
}
