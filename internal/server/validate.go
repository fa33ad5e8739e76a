package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"

	"github.com/regiond/regiond/internal/apispec"
	"github.com/regiond/regiond/internal/problem"
)

// validationOptions are apispec's, and hand the validated body to the strict handler so that it
// is not decoded a second time (and not case-insensitively, as encoding/json would).
var validationOptions = func() *openapi3filter.Options {
	o := apispec.Options()
	o.KeepValidatedValue = true
	return o
}()

// validateRequest checks a request against its operation in the spec. Errors are problem
// errors naming each offending field: 415 for a wrong media type, 400 for the rest.
func validateRequest(c echo.Context, op *operation) error {
	req := c.Request()
	if op.allOptional && req.URL.RawQuery == "" && !hasAny(req.Header, op.headerParams) {
		return nil // sends none of the operation's parameters, all optional: nothing to check
	}
	if len(op.mediaTypes) > 0 && hasBody(req) {
		if err := checkMediaType(req, op.mediaTypes); err != nil {
			return err
		}
		if err := checkBody(req); err != nil {
			return err
		}
	}
	var params map[string]string
	if names := c.ParamNames(); len(names) > 0 {
		params = make(map[string]string, len(names))
		for i, name := range names {
			v, err := url.PathUnescape(c.ParamValues()[i])
			if err != nil {
				return problem.WithFields(http.StatusBadRequest, problem.Field(name, "is not a valid URL path segment"))
			}
			if !isText(v) {
				return problem.WithFields(http.StatusBadRequest, problem.Field(name, "must be UTF-8 text without NUL"))
			}
			params[name] = v
		}
	}
	if req.URL.RawQuery != "" {
		query := req.URL.Query()
		for _, name := range op.queryParams {
			for _, v := range query[name] {
				if !isText(v) {
					return problem.WithFields(http.StatusBadRequest, problem.Field(name, "must be UTF-8 text without NUL"))
				}
			}
		}
	}
	err := openapi3filter.ValidateRequest(req.Context(), &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: op.route, Options: validationOptions,
	})
	if err == nil {
		return nil
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) || errors.Is(err, echo.ErrStatusRequestEntityTooLarge) {
		return echo.ErrStatusRequestEntityTooLarge
	}
	return problem.WithFields(http.StatusBadRequest, apispec.FieldErrors(err)...)
}

// isText reports a parameter value the databases compare as the client meant: not UTF-8, MariaDB
// drops the bad bytes (q=%ff matched every region); with a NUL, SQLite ends the string there
// (q=%00 did).
func isText(v string) bool {
	return utf8.ValidString(v) && strings.IndexByte(v, 0) < 0
}

func hasAny(h http.Header, names []string) bool {
	for _, n := range names {
		if _, ok := h[n]; ok {
			return true
		}
	}
	return false
}

func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && (r.ContentLength != 0 || len(r.TransferEncoding) > 0)
}

func checkMediaType(r *http.Request, accepted []string) error {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil && slices.Contains(accepted, mt) {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") {
			return nil
		}
	}
	if ct == "" {
		ct = "none"
	}
	return problem.Newf(http.StatusUnsupportedMediaType, "Content-Type must be %s (UTF-8), not %s", strings.Join(accepted, " or "), ct)
}

// checkBody rejects bodies that are not UTF-8, and bodies with more than whitespace after their
// JSON value. encoding/json would silently replace bad bytes with U+FFFD, and the mangled text
// would be stored; it would also decode the first of two documents and ignore the rest, which the
// client meant as something else. Instead the client is told which field, or that the body is
// wrong.
func checkBody(r *http.Request) error {
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			return echo.ErrStatusRequestEntityTooLarge
		case errors.Is(err, os.ErrDeadlineExceeded):
			// The server's read timeout passed while the client was still sending.
			return problem.New(http.StatusRequestTimeout, "the request body did not arrive within the server's read timeout").
				WithHeader("Connection", "close")
		}
		return problem.New(http.StatusBadRequest, "the request body could not be read")
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if !utf8.Valid(body) {
		return problem.WithFields(http.StatusBadRequest, problem.Field(apispec.NonUTF8Field(body), "is not valid UTF-8"))
	}
	if trailingData(body) {
		return problem.WithFields(http.StatusBadRequest, problem.Field("body", "has data after its JSON value"))
	}
	return nil
}

// trailingData reports a body that holds a JSON value followed by more than whitespace. A body
// that is not JSON at all is left to the validator, which says so.
func trailingData(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	var value json.RawMessage
	if dec.Decode(&value) != nil {
		return false
	}
	_, err := dec.Token()
	return err != io.EOF
}
