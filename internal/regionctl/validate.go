package regionctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/regiond/regiond"
	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/region"
)

// ValidateCmd checks a request body offline, as the server's gate would: against the schema of
// the operation's request body in the embedded openapi.yaml, with kin-openapi. For region bodies
// it also applies the rules the schema cannot express (URL schemes, host names, PEM), which the
// server answers with 422.
type ValidateCmd struct {
	Operation string `required:"" placeholder:"ID" help:"The operationId whose request body the file is: createRegion, replaceRegion, updateRegion or createToken."`
	File      string `short:"f" required:"" placeholder:"FILE" help:"The JSON request body (- for stdin)."`
	Output    string `short:"o" enum:"text,json" default:"text" help:"Report format: text (field: message lines) or json (the errors array of the server's problem)."`
}

func (c *ValidateCmd) Run(rc *runContext) error {
	spec, err := loadSpec()
	if err != nil {
		return err
	}
	body, err := rc.readInput(c.File)
	if err != nil {
		return err
	}
	errs, err := validateBody(context.Background(), spec, c.Operation, body)
	if err != nil {
		return err
	}
	name := inputName(c.File)
	if c.Output == "json" {
		if errs == nil {
			errs = []api.FieldError{}
		}
		out, _ := json.MarshalIndent(errs, "", "  ")
		fmt.Fprintf(rc.stdout, "%s\n", out)
	} else if len(errs) == 0 {
		fmt.Fprintf(rc.stdout, "%s: valid %s request body\n", name, c.Operation)
	} else {
		fmt.Fprintf(rc.stdout, "%s: invalid %s request body:\n", name, c.Operation)
		for _, e := range errs {
			fmt.Fprintf(rc.stdout, "  %s: %s\n", e.Field, e.Message)
		}
	}
	if len(errs) > 0 {
		return &quietError{code: 1}
	}
	return nil
}

// validateBody checks body as the request body of operationID and returns one entry per
// offending field, worded as the `errors` of the server's problem; none means the server would
// accept it (as far as it can be told without the stored region and the caller's scopes). An
// unknown operation, or one without a body, is a usage error.
func validateBody(ctx context.Context, spec *openapi3.T, operationID string, body []byte) ([]api.FieldError, error) {
	errs, err := schemaErrors(ctx, spec, operationID, body)
	if err != nil || len(errs) > 0 {
		return errs, err
	}
	// The schema passed: now the rules the server checks next (its 422), for whole regions.
	switch operationID {
	case "createRegion", "replaceRegion":
		var b api.RegionCreate
		if err := json.Unmarshal(body, &b); err != nil {
			return []api.FieldError{{Field: "body", Message: "is not valid JSON: " + err.Error()}}, nil
		}
		return region.Validate(regionOf(b)), nil
	}
	return nil, nil
}

// schemaErrors checks body against the operation's request body in the spec, with the options
// the server's gate uses (its 400s).
func schemaErrors(ctx context.Context, spec *openapi3.T, operationID string, body []byte) ([]api.FieldError, error) {
	route, known := findOperation(spec, operationID)
	if route == nil || route.Operation.RequestBody == nil || route.Operation.RequestBody.Value == nil {
		return nil, usagef("--operation: %q is not an operation with a request body; use one of %s", operationID, strings.Join(known, ", "))
	}
	rb := route.Operation.RequestBody.Value
	mediaTypes := make([]string, 0, len(rb.Content))
	for mt := range rb.Content {
		mediaTypes = append(mediaTypes, mt)
	}
	slices.Sort(mediaTypes)

	// Like the server: a body that is not UTF-8 is refused before it is parsed.
	if !utf8.Valid(body) {
		return []api.FieldError{{Field: nonUTF8Field(body), Message: "is not valid UTF-8"}}, nil
	}
	req, err := http.NewRequestWithContext(ctx, route.Method, "http://regionctl.invalid"+route.Path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", mediaTypes[0])
	input := &openapi3filter.RequestValidationInput{Request: req, Route: route, Options: &openapi3filter.Options{
		MultiError:              true,
		AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
	}}
	if err := openapi3filter.ValidateRequestBody(ctx, input, rb); err != nil {
		return fieldErrors(err), nil
	}
	return nil, nil
}

// loadSpec reads openapi.yaml as it is written (api.GetSwagger's copy has its operationIds
// capitalized by the generator; people know them from openapi.yaml).
func loadSpec() (*openapi3.T, error) {
	spec, err := openapi3.NewLoader().LoadFromData(regiond.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("loading the embedded API description: %v", err)
	}
	return spec, nil
}

// findOperation returns the route of an operation, and the operations that take a body.
func findOperation(spec *openapi3.T, operationID string) (*routers.Route, []string) {
	var found *routers.Route
	var known []string
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody != nil {
				known = append(known, op.OperationID)
			}
			if op.OperationID == operationID {
				found = &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: op}
			}
		}
	}
	slices.Sort(known)
	return found, known
}

// regionOf is the region a create (or replace) body describes, with the server's defaults.
func regionOf(b api.RegionCreate) region.Region {
	tls := func(v interface{ Get() (string, error) }) *string {
		if s, err := v.Get(); err == nil {
			return &s
		}
		return nil
	}
	return region.Region{
		RegionName:  b.RegionName,
		RegionAlias: b.RegionAlias,
		URL:         b.Url,
		WSURL:       deref(b.Wsurl),
		HTTPDomain:  deref(b.Httpdomain),
		TCPDomain:   deref(b.Tcpdomain),
		Status:      region.Status(or(deref(b.Status), api.RegionStatusEnabled)),
		Desc:        deref(b.Desc),
		Scope:       region.Scope(or(deref(b.Scope), api.RegionScopePrivate)),
		SSLCACert:   tls(b.SslCaCert),
		CertFile:    tls(b.CertFile),
		KeyFile:     tls(b.KeyFile),
	}
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// nonUTF8Field names the member whose value is not UTF-8, as the server does.
func nonUTF8Field(body []byte) string {
	var members map[string]json.RawMessage
	if json.Unmarshal(body, &members) == nil {
		for name, raw := range members {
			if !utf8.Valid(raw) || !utf8.ValidString(name) {
				return strings.ToValidUTF8(name, "\uFFFD")
			}
		}
	}
	return "body"
}

var unsupportedProperty = regexp.MustCompile(`^property "(.*)" is unsupported$`)

// fieldErrors flattens kin-openapi's errors into one entry per field, worded as the server words
// them (internal/server does the same for live requests; a test keeps the two in step).
func fieldErrors(err error) []api.FieldError {
	var out []api.FieldError
	add := func(field, msg string) { out = append(out, api.FieldError{Field: field, Message: msg}) }
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
				add(field, e.Reason)
			case e.Err.Error() == "value is required but missing":
				add(field, "is required")
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
			add(f, msg)
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
			add(field, msg)
		default:
			if inner := errors.Unwrap(err); inner != nil {
				walk(inner, field)
				return
			}
			if field == "" {
				field = "body"
			}
			add(field, err.Error())
		}
	}
	walk(err, "")
	if len(out) == 0 {
		add("body", "does not match the API description")
	}
	return out
}

// joinPointer names a body member: "region_name", "scopes[1]".
func joinPointer(field string, ptr []string) string {
	if field == "body" && len(ptr) > 0 {
		field = ""
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
