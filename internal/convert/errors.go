package convert

import (
	"context"
	"errors"
	"net/http"

	"github.com/regiond/regiond/internal/problem"
	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/store"
)

// Problem is the problem an error becomes, whatever raised it: problems as they are, and the
// store's errors that can come from any request (the database unavailable or too slow, a request
// canceled, a secret that cannot be decrypted). Anything else is an internal error, whose detail
// names the request id the cause is logged with.
func Problem(err error, requestID string) *problem.Error {
	var pe *problem.Error
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return problem.Unavailable("the database is unavailable; retry later", 1, err)
	case errors.Is(err, context.Canceled):
		return &problem.Error{Status: http.StatusServiceUnavailable, Detail: "the request was canceled", Cause: err}
	case errors.Is(err, store.ErrSecretUnreadable):
		return &problem.Error{Status: http.StatusInternalServerError, Cause: err,
			Detail: "a stored key_file cannot be decrypted with this server's encryption keys; the operator must configure the key it was written with (request id " + requestID + ")"}
	}
	return &problem.Error{Status: http.StatusInternalServerError, Detail: InternalDetail(requestID), Cause: err}
}

// InternalDetail is what a client is told of an internal error.
func InternalDetail(requestID string) string {
	return "an unexpected error occurred; it has been logged with request id " + requestID
}

// RegionError words the store's errors about one region; others are left to Problem.
func RegionError(err error, id string) error {
	var invalid region.Invalid
	switch {
	case errors.As(err, &invalid):
		return Invalid(invalid)
	case errors.Is(err, store.ErrNotFound):
		return problem.Newf(http.StatusNotFound, "region %s does not exist", id)
	case errors.Is(err, store.ErrVersionMismatch):
		return problem.New(http.StatusPreconditionFailed, "the region changed since it was read (If-Match does not match); read it again and retry")
	case errors.Is(err, store.ErrConflict):
		return problem.WithFields(http.StatusConflict, problem.Field("region_name", "a region with this name already exists in the enterprise"))
	}
	return err
}

// TokenError words the store's errors about one token; others are left to Problem.
func TokenError(err error, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return problem.Newf(http.StatusNotFound, "token %s does not exist", id)
	}
	return err
}

// Invalid is the 422 problem of a region that breaks the rules, one field error per field.
func Invalid(errs region.Invalid) *problem.Error {
	fields := make([]problem.FieldError, len(errs))
	for i, e := range errs {
		fields[i] = problem.Field(e.Field, e.Message)
	}
	return problem.WithFields(http.StatusUnprocessableEntity, fields...)
}
