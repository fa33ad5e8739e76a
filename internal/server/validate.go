package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"

	"github.com/regiond/regiond/internal/problem"
)

// validationOptions: report every field at once, keep messages short (no schema dumps), leave
// authentication to the gate, and hand the validated body to the strict handler so that it is
// not decoded a second time (and not case-insensitively, as encoding/json would).
var validationOptions = &openapi3filter.Options{
	MultiError:              true,
	AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
	KeepValidatedValue:      true,
	SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
}

// validateRequest checks a request against its operation in the spec. Errors are problem
// errors naming each offending field: 415 for a wrong media type, 400 for the rest.
func validateRequest(c echo.Context, op *operation) error {
	req := c.Request()
	if len(op.mediaTypes) > 0 && hasBody(req) {
		if err := checkMediaType(req, op.mediaTypes); err != nil {
			return err
		}
		if err := checkUTF8(req); err != nil {
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
			params[name] = v
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
	return problem.WithFields(http.StatusBadRequest, fieldErrors(err)...)
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

// checkUTF8 rejects bodies that are not UTF-8. encoding/json would silently replace the bad bytes
// with U+FFFD and the mangled text would be stored; instead the client is told which field.
func checkUTF8(r *http.Request) error {
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return echo.ErrStatusRequestEntityTooLarge
		}
		return problem.New(http.StatusBadRequest, "the request body could not be read")
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if utf8.Valid(body) {
		return nil
	}
	field := "body"
	var members map[string]json.RawMessage
	if json.Unmarshal(body, &members) == nil {
		for name, raw := range members {
			if !utf8.Valid(raw) || !utf8.ValidString(name) {
				field = strings.ToValidUTF8(name, "\uFFFD")
				break
			}
		}
	}
	return problem.WithFields(http.StatusBadRequest, problem.Field(field, "is not valid UTF-8"))
}

var unsupportedProperty = regexp.MustCompile(`^property "(.*)" is unsupported$`)

// fieldErrors flattens kin-openapi's errors into one entry per field. It looks at each error's
// own type before unwrapping it: a RequestError wraps the schema errors of its parameter.
func fieldErrors(err error) []problem.FieldError {
	var out []problem.FieldError
	var walk func(err error, field string)
	walk = func(err error, field string) {
		switch e := err.(type) {
		case openapi3.MultiError:
			for _, x := range e {
				walk(x, field)
			}
		case *openapi3filter.RequestError:
			switch {
			case e.Parameter != nil:
				field = e.Parameter.Name
			case e.RequestBody != nil:
				field = "body"
			}
			switch {
			case e.Err == nil:
				out = append(out, problem.Field(field, e.Reason))
			case e.Err.Error() == "value is required but missing":
				out = append(out, problem.Field(field, "is required"))
			default:
				walk(e.Err, field)
			}
		case *openapi3.SchemaError:
			f := joinPointer(field, e.JSONPointer())
			msg := e.Reason
			if m := unsupportedProperty.FindStringSubmatch(msg); m != nil {
				f, msg = joinPointer(field, []string{m[1]}), "is not a known field"
			} else if e.SchemaField == "required" {
				msg = "is required"
			} else if e.SchemaField == "nullable" {
				msg = "cannot be null"
			}
			out = append(out, problem.Field(f, msg))
		case *openapi3filter.ParseError:
			msg := "cannot be parsed"
			if e.Reason != "" {
				msg = "is " + e.Reason
			}
			if field == "body" {
				msg = "is not valid JSON"
				if e.Cause != nil {
					msg += ": " + e.Cause.Error()
				}
			}
			out = append(out, problem.Field(field, msg))
		default:
			if inner := errors.Unwrap(err); inner != nil {
				walk(inner, field)
				return
			}
			out = append(out, problem.Field(or(field, "body"), err.Error()))
		}
	}
	walk(err, "")
	if len(out) == 0 {
		out = append(out, problem.Field("body", "does not match the API description"))
	}
	return out
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// joinPointer names a body member: "region_name", "scopes[1]". Query parameters and headers keep
// their own names.
func joinPointer(field string, ptr []string) string {
	if field == "body" && len(ptr) > 0 {
		field = "" // body members are named on their own
	}
	for _, p := range ptr {
		if _, err := strconv.Atoi(p); err == nil && field != "" {
			field += "[" + p + "]"
		} else if field == "" {
			field = p
		} else {
			field += "." + p
		}
	}
	if field == "" {
		return "body"
	}
	return field
}
