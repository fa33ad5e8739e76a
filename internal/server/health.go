package server

import (
	"context"
	"time"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/problem"
)

// GetHealth answers while the process is up; it does not touch the database.
func (s *Server) GetHealth(context.Context, api.GetHealthRequestObject) (api.GetHealthResponseObject, error) {
	return api.GetHealth200JSONResponse{Status: api.Ok}, nil
}

// GetReadiness answers 200 while the database answers a ping within a second.
func (s *Server) GetReadiness(ctx context.Context, _ api.GetReadinessRequestObject) (api.GetReadinessResponseObject, error) {
	if s.draining.Load() {
		return nil, problem.Unavailable("this replica is shutting down", 1, nil)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return nil, problem.Unavailable("the database is not reachable", 1, err)
	}
	return api.GetReadiness200JSONResponse{Status: api.Ok}, nil
}
