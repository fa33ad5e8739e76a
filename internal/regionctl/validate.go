package regionctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/apispec"
	"github.com/regiond/regiond/internal/region"
)

// ValidateCmd checks a request body offline, as the server's request validator would: against the schema of
// the operation's request body in the embedded openapi.yaml, with kin-openapi. For region bodies
// it also applies the rules the schema cannot express (URL schemes, host names, PEM), which the
// server answers with 422.
type ValidateCmd struct {
	Operation string `required:"" placeholder:"ID" help:"The operationId whose request body the file is: createRegion, replaceRegion, updateRegion or createToken."`
	File      string `short:"f" required:"" placeholder:"FILE" help:"The request body, in JSON or YAML (- for stdin)."`
	Output    string `short:"o" enum:"text,json" default:"text" help:"Report format: text (field: message lines) or json (the errors array of the server's problem)."`
}

func (c *ValidateCmd) Run(rc *runContext) error {
	spec, err := apispec.Load()
	if err != nil {
		return err
	}
	if _, err := bodyRoute(spec, c.Operation); err != nil {
		return err
	}
	data, err := rc.readInput(c.File)
	if err != nil {
		return err
	}
	body, errs := requestJSON(data)
	if errs == nil {
		if errs, err = validateBody(context.Background(), spec, c.Operation, body); err != nil {
			return err
		}
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

// requestJSON is the request body a file stands for: JSON exactly as it is written, or YAML read as
// create and apply read a region — every top-level scalar a string, as every top-level scalar
// member of this API's request bodies is (a plain `status: 1` is "1"). A body that is neither is
// one field error.
func requestJSON(data []byte) ([]byte, []api.FieldError) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] == '{' || trimmed[0] == '[' || !utf8.Valid(data) {
		return data, nil // JSON, or no body: checked as the server checks it
	}
	body, err := toJSON(data, true)
	if err != nil {
		return nil, []api.FieldError{{Field: "body", Message: err.Error()}}
	}
	return body, nil
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
		var errs []api.FieldError
		for _, e := range region.Validate(apispec.NewRegion(b)) {
			errs = append(errs, api.FieldError{Field: e.Field, Message: e.Message})
		}
		return errs, nil
	}
	return nil, nil
}

// schemaErrors checks body against the operation's request body in the spec, with the options
// the server's request validator uses (its 400s).
func schemaErrors(ctx context.Context, spec *openapi3.T, operationID string, body []byte) ([]api.FieldError, error) {
	route, err := bodyRoute(spec, operationID)
	if err != nil {
		return nil, err
	}
	rb := route.Operation.RequestBody.Value
	mediaTypes := make([]string, 0, len(rb.Content))
	for mt := range rb.Content {
		mediaTypes = append(mediaTypes, mt)
	}
	slices.Sort(mediaTypes)

	// Like the server: a body that is not UTF-8 is refused before it is parsed.
	if !utf8.Valid(body) {
		return []api.FieldError{{Field: apispec.NonUTF8Field(body), Message: "is not valid UTF-8"}}, nil
	}
	req, err := http.NewRequestWithContext(ctx, route.Method, "http://regionctl.invalid"+route.Path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", mediaTypes[0])
	input := &openapi3filter.RequestValidationInput{Request: req, Route: route, Options: apispec.Options()}
	if err := openapi3filter.ValidateRequestBody(ctx, input, rb); err != nil {
		return apispec.FieldErrors(err), nil
	}
	return nil, nil
}

// bodyRoute is the route of an operation that takes a request body; any other is a usage error.
func bodyRoute(spec *openapi3.T, operationID string) (*routers.Route, error) {
	route, known := findOperation(spec, operationID)
	if route == nil || route.Operation.RequestBody == nil || route.Operation.RequestBody.Value == nil {
		return nil, usagef("--operation: %q is not an operation with a request body; use one of %s", operationID, strings.Join(known, ", "))
	}
	return route, nil
}

// findOperation returns the route of an operation, and the operations that take a body.
func findOperation(spec *openapi3.T, operationID string) (*routers.Route, []string) {
	var found *routers.Route
	var known []string
	for _, route := range apispec.Routes(spec) {
		if route.Operation.RequestBody != nil {
			known = append(known, route.Operation.OperationID)
		}
		if route.Operation.OperationID == operationID {
			found = route
		}
	}
	slices.Sort(known)
	return found, known
}
