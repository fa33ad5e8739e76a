package transport

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/regiond/regiond/internal/convert"
	"github.com/regiond/regiond/internal/problem"
)

// statusClientClosed is nginx's code for a request the client gave up on: logged and counted,
// never written (a client still reading would take a non-standard status).
const statusClientClosed = 499

// Errors writes every error as an application/problem+json response, Echo's own included
// (unknown route, wrong method, oversized body). Server errors are logged with their cause; the
// client gets a request id, never the cause.
type Errors struct {
	Log       *slog.Logger
	Recorder  *Recorder
	BodyLimit int64
}

// Write answers err and returns the status it answered with (statusClientClosed, writing
// nothing, when the client went away). route is the route template, for the log.
func (e *Errors) Write(w http.ResponseWriter, r *http.Request, err error, route string) int {
	info := Info(r.Context())
	pe := e.problem(err, r, w.Header())
	if r.Context().Err() != nil && pe.Status != http.StatusRequestTimeout {
		// The client went away: whatever failed, nobody is there to answer. The connection is
		// closed instead (Track).
		e.Log.Debug("the client closed the request", "request_id", info.ID, "error", err)
		e.Recorder.countError(statusClientClosed)
		info.Abandoned = true
		return statusClientClosed
	}
	e.Recorder.countError(pe.Status)
	if pe.Status >= 500 {
		e.Log.ErrorContext(r.Context(), "request failed", "request_id", info.ID, "status", pe.Status, "route", route, "error", errorText(pe))
	}
	if werr := problem.Write(w, pe, r.URL.Path, info.ID); werr != nil {
		e.Log.Debug("writing an error response failed", "error", werr)
	}
	return pe.Status
}

// HandleEcho is Echo's HTTPErrorHandler: Write, unless the response has begun.
func (e *Errors) HandleEcho(err error, c echo.Context) {
	res := c.Response()
	if res.Committed {
		return
	}
	if status := e.Write(res, c.Request(), err, c.Path()); !res.Committed {
		res.Status = status // what the request log records when nothing was written
	}
}

// Recovered is what a panic in a handler becomes: its stack goes to the log, the client gets a
// 500 problem naming the request id. (Echo's Recover middleware calls it, and so does the list
// room.)
func (e *Errors) Recovered(r *http.Request, panicked any, stack []byte) error {
	id := Info(r.Context()).ID
	e.Log.Error("panic", "request_id", id, "panic", fmt.Sprint(panicked), "stack", string(stack))
	e.Recorder.countKind("panic")
	return problem.New(http.StatusInternalServerError, convert.InternalDetail(id))
}

func errorText(pe *problem.Error) string {
	if pe.Cause != nil {
		return pe.Cause.Error()
	}
	return pe.Detail
}

func (e *Errors) problem(err error, r *http.Request, h http.Header) *problem.Error {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return e.fromEcho(he, r, h)
	}
	return convert.Problem(err, Info(r.Context()).ID)
}

// fromEcho words Echo's errors for people: its messages are terse or Go-flavoured.
func (e *Errors) fromEcho(he *echo.HTTPError, r *http.Request, h http.Header) *problem.Error {
	switch he.Code {
	case http.StatusNotFound:
		return problem.Newf(http.StatusNotFound, "no such resource: %s", r.URL.Path)
	case http.StatusMethodNotAllowed:
		return problem.Newf(http.StatusMethodNotAllowed, "%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, h.Get("Allow"))
	case http.StatusRequestEntityTooLarge:
		return problem.New(http.StatusRequestEntityTooLarge, "the request body is larger than "+strconv.FormatInt(e.BodyLimit, 10)+" bytes")
	case http.StatusUnsupportedMediaType:
		return problem.Newf(http.StatusUnsupportedMediaType, "Content-Type %q is not accepted here", r.Header.Get("Content-Type"))
	case http.StatusBadRequest:
		return &problem.Error{Status: http.StatusBadRequest, Detail: "the request could not be read", Cause: he}
	}
	if he.Code >= 500 {
		return &problem.Error{Status: he.Code, Detail: convert.InternalDetail(Info(r.Context()).ID), Cause: he}
	}
	return &problem.Error{Status: he.Code, Detail: http.StatusText(he.Code), Cause: he}
}
