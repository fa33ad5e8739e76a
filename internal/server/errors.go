package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/regiond/regiond/internal/problem"
	"github.com/regiond/regiond/internal/store"
)

// handleError is Echo's error handler: every error, Echo's own included (unknown route, wrong
// method, oversized body), becomes an application/problem+json response. Server errors are logged
// with their cause; the client gets a request id, never the cause.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	pe := s.toProblem(err, c)
	if c.Request().Context().Err() != nil && pe.Status != http.StatusRequestTimeout {
		// The client went away: whatever failed, nobody is there to answer. Recorded as nginx's
		// 499 (client closed request), not as a server error, but never sent: a client still
		// reading would take a non-standard status. front closes the connection instead.
		s.log.Debug("the client closed the request", "request_id", requestIDOf(c), "error", err)
		s.metrics.countError(statusClientClosed)
		c.Response().Status = statusClientClosed
		callOf(c).abandoned = true
		return
	}
	s.metrics.countError(pe.Status)
	if pe.Status >= 500 {
		s.log.ErrorContext(c.Request().Context(), "request failed", "request_id", requestIDOf(c),
			"status", pe.Status, "route", c.Path(), "error", errorText(pe))
	}
	if c.Request().Method == http.MethodHead {
		c.Response().WriteHeader(pe.Status)
		return
	}
	if werr := problem.Write(c.Response(), pe, c.Request().URL.Path, requestIDOf(c)); werr != nil {
		s.log.Debug("writing an error response failed", "error", werr)
	}
}

// statusClientClosed is nginx's code for a request the client gave up on: logged and counted,
// never written.
const statusClientClosed = 499

func errorText(pe *problem.Error) string {
	if pe.Cause != nil {
		return pe.Cause.Error()
	}
	return pe.Detail
}

func (s *Server) toProblem(err error, c echo.Context) *problem.Error {
	var pe *problem.Error
	var he *echo.HTTPError
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.As(err, &he):
		return fromEcho(he, c, s.cfg.BodyLimit)
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return problem.Unavailable("the database is unavailable; retry later", 1, err)
	case errors.Is(err, context.Canceled):
		return &problem.Error{Status: http.StatusServiceUnavailable, Detail: "the request was canceled", Cause: err}
	case errors.Is(err, store.ErrSecretUnreadable):
		return &problem.Error{Status: http.StatusInternalServerError, Cause: err,
			Detail: "a stored key_file cannot be decrypted with this server's encryption keys; the operator must configure the key it was written with (request id " + requestIDOf(c) + ")"}
	}
	return &problem.Error{Status: http.StatusInternalServerError, Detail: internalDetail(c), Cause: err}
}

// fromEcho words Echo's errors for people: its messages are terse or Go-flavoured.
func fromEcho(he *echo.HTTPError, c echo.Context, bodyLimit int64) *problem.Error {
	req := c.Request()
	switch he.Code {
	case http.StatusNotFound:
		return problem.Newf(http.StatusNotFound, "no such resource: %s", req.URL.Path)
	case http.StatusMethodNotAllowed:
		allow := c.Response().Header().Get("Allow")
		return problem.Newf(http.StatusMethodNotAllowed, "%s is not allowed on %s (allowed: %s)", req.Method, req.URL.Path, allow)
	case http.StatusRequestEntityTooLarge:
		return tooLarge(bodyLimit)
	case http.StatusUnsupportedMediaType:
		return problem.Newf(http.StatusUnsupportedMediaType, "Content-Type %q is not accepted here", req.Header.Get("Content-Type"))
	case http.StatusBadRequest:
		return &problem.Error{Status: http.StatusBadRequest, Detail: "the request could not be read", Cause: he}
	}
	if he.Code >= 500 {
		return &problem.Error{Status: he.Code, Detail: internalDetail(c), Cause: he}
	}
	return &problem.Error{Status: he.Code, Detail: http.StatusText(he.Code), Cause: he}
}
