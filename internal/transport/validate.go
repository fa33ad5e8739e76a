package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"

	"github.com/regiond/regiond/internal/apispec"
	"github.com/regiond/regiond/internal/problem"
)

// ValidatorOptions are the request validator's, shaped like those of oapi-codegen's
// echo-middleware (OapiRequestValidatorWithOptions).
type ValidatorOptions struct {
	// Options are kin-openapi's. Their AuthenticationFunc authenticates the caller of every
	// secured operation (Authorizer.AuthenticationFunc: the token, its rate limit and the scopes of
	// x-required-scopes).
	Options openapi3filter.Options
	// Prefix is the base path the spec's paths are served under.
	Prefix string
}

// Validator checks each request against its operation in openapi.yaml: the caller first, then the
// request. It is oapi-codegen's echo-middleware in shape, but our own: that module is not served
// by the Go module proxy here; and it would match each request a second time with its own router,
// and read the body before authenticating (kin-openapi reads it for its authentication hook), so
// that an anonymous caller could learn 413 or 408 before 401.
type Validator struct {
	ops          map[string]map[string]*operation // by method and Echo route path
	authenticate openapi3filter.AuthenticationFunc
	options      *openapi3filter.Options
}

// operation is what the validator knows of one operation of the spec, found once at start-up.
type operation struct {
	route   *routers.Route
	secured bool // has a security requirement (every /openapi/v1 operation)
	// mediaTypes the request body may have; none for operations without a body.
	mediaTypes []string
	// allOptional: no body, no path parameter, every parameter optional; a request that sends
	// none of them (no query string, none of headerParams) is valid by construction.
	allOptional  bool
	headerParams []string
	queryParams  []string
}

// NewValidator indexes the spec's operations. It fails when a secured operation names no scope,
// so that no operation can be open to every token by accident.
func NewValidator(spec *openapi3.T, opts ValidatorOptions) (*Validator, error) {
	v := &Validator{ops: map[string]map[string]*operation{}, authenticate: opts.Options.AuthenticationFunc}
	options := opts.Options
	options.AuthenticationFunc = openapi3filter.NoopAuthenticationFunc // done before, by Check
	// The strict handler gets the validated body, not decoded a second time (and not
	// case-insensitively, as encoding/json would).
	options.KeepValidatedValue = true
	v.options = &options
	for _, route := range apispec.Routes(spec) {
		op := route.Operation
		o := &operation{route: route, allOptional: op.RequestBody == nil}
		security := spec.Security
		if op.Security != nil {
			security = *op.Security
		}
		o.secured = len(security) > 0
		scopes, _ := op.Extensions["x-required-scopes"].([]any)
		for _, sc := range scopes {
			if _, ok := sc.(string); !ok {
				return nil, fmt.Errorf("operation %s: x-required-scopes holds %v, not a scope name", op.OperationID, sc)
			}
		}
		if o.secured && len(scopes) == 0 {
			return nil, fmt.Errorf("operation %s is secured but has no x-required-scopes", op.OperationID)
		}
		if op.RequestBody != nil && op.RequestBody.Value != nil {
			o.mediaTypes = slices.Sorted(maps.Keys(op.RequestBody.Value.Content))
		}
		for _, p := range append(route.PathItem.Parameters, op.Parameters...) {
			if p.Value.In == openapi3.ParameterInQuery {
				o.queryParams = append(o.queryParams, p.Value.Name)
			}
			switch {
			case p.Value.Required || p.Value.In == openapi3.ParameterInPath || p.Value.In == openapi3.ParameterInCookie:
				o.allOptional = false
			case p.Value.In == openapi3.ParameterInHeader:
				o.headerParams = append(o.headerParams, http.CanonicalHeaderKey(p.Value.Name))
			}
		}
		if v.ops[route.Method] == nil {
			v.ops[route.Method] = map[string]*operation{}
		}
		v.ops[route.Method][echoPath(opts.Prefix, route.Path)] = o
	}
	return v, nil
}

// echoPath converts an OpenAPI path template to Echo's, as oapi-codegen registers it.
func echoPath(prefix, path string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for i := 0; i < len(path); i++ {
		switch path[i] {
		case '{':
			b.WriteByte(':')
		case '}':
		default:
			b.WriteByte(path[i])
		}
	}
	return b.String()
}

// Middleware validates every request Echo routes to an operation of the spec; others (404, 405,
// the docs, /metrics) pass to Echo's own handlers. It is global rather than a group's: a group's
// middleware would also claim every unmatched path, turning 405s into 404s.
func (v *Validator) Middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if _, err := v.Check(req.Context(), req, c.Path(), c.ParamNames(), c.ParamValues()); err != nil {
			return err
		}
		return next(c)
	}
}

// Check authenticates and validates a request routed to routePath (with its path parameters'
// names and values), in that order. ok is false when routePath is no operation of the spec.
// Errors are problems naming each offending field: 415 for a wrong media type, 400 for the rest.
// ctx carries the request's RequestInfo: req's own context, or the list room's, which gives it
// apart so as not to copy the request (see Exchange).
func (v *Validator) Check(ctx context.Context, req *http.Request, routePath string, names, values []string) (ok bool, err error) {
	method := req.Method
	if method == http.MethodHead {
		method = http.MethodGet // HEAD is the GET without its body: the same caller, the same checks
	}
	op := v.ops[method][routePath]
	if op == nil {
		return false, nil
	}
	// kin-openapi's inputs escape: they are kept in the request's RequestInfo, whose allocation
	// the request makes anyway (the list room comes here for every bare list).
	inputs := &Info(ctx).inputs
	*inputs = validationInputs{validate: openapi3filter.RequestValidationInput{Request: req, Route: op.route, Options: v.options}}
	input := &inputs.validate
	if op.secured {
		inputs.auth.RequestValidationInput = input
		if err := v.authenticate(ctx, &inputs.auth); err != nil {
			return true, err
		}
	}
	if op.allOptional && req.URL.RawQuery == "" && !hasAny(req.Header, op.headerParams) {
		return true, nil // sends none of the operation's parameters, all optional: nothing to check
	}
	return true, v.validate(input, op, names, values)
}

// validationInputs are the inputs of kin-openapi's authentication and validation of a request.
type validationInputs struct {
	auth     openapi3filter.AuthenticationInput
	validate openapi3filter.RequestValidationInput
}

func (v *Validator) validate(input *openapi3filter.RequestValidationInput, op *operation, names, values []string) error {
	req := input.Request
	if len(op.mediaTypes) > 0 && hasBody(req) {
		if err := checkMediaType(req, op.mediaTypes); err != nil {
			return err
		}
		if err := checkBody(req); err != nil {
			return err
		}
	}
	if len(names) > 0 {
		input.PathParams = make(map[string]string, len(names))
		for i, name := range names {
			v, err := url.PathUnescape(values[i])
			if err != nil {
				return problem.WithFields(http.StatusBadRequest, problem.Field(name, "is not a valid URL path segment"))
			}
			if !isText(v) {
				return problem.WithFields(http.StatusBadRequest, problem.Field(name, "must be UTF-8 text without NUL"))
			}
			input.PathParams[name] = v
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
	err := openapi3filter.ValidateRequest(req.Context(), input)
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

// checkMediaType accepts a body of one of the operation's media types, in UTF-8, and writes its
// Content-Type back in lower case: the generated handler picks the body's type by a
// case-sensitive prefix ("Application/JSON" would match none).
func checkMediaType(r *http.Request, accepted []string) error {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil && slices.Contains(accepted, mt) {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") {
			r.Header.Set("Content-Type", mt)
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
		case errors.As(err, &tooLarge), errors.Is(err, echo.ErrStatusRequestEntityTooLarge):
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
