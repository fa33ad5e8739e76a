// Package apispec reads openapi.yaml for validation, and words kin-openapi's validation errors
// as the `errors` of a problem: one entry per field. The server's request validator and
// regionctl's offline `validate` both use it, so a body is judged and described the same way in
// both places; so do the API's defaults for a create body (NewRegion).
package apispec

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/oapi-codegen/nullable"

	"github.com/regiond/regiond"
	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/region"
)

// Load parses openapi.yaml as written (regiond.OpenAPI, the one embedded copy), without servers,
// so that request paths are matched as they are.
func Load() (*openapi3.T, error) {
	spec, err := openapi3.NewLoader().LoadFromData(regiond.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("loading openapi.yaml: %w", err)
	}
	if err := spec.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.yaml is not a valid OpenAPI document: %w", err)
	}
	spec.Servers = nil
	return spec, nil
}

// Routes are the spec's operations, each with its path and method, ordered by path and method:
// the one walk over them.
func Routes(spec *openapi3.T) []*routers.Route {
	var out []*routers.Route
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			out = append(out, &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: op})
		}
	}
	slices.SortFunc(out, func(a, b *routers.Route) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Method, b.Method))
	})
	return out
}

// Options validate requests: every field reported at once, short messages (no schema dumps),
// authentication left to the caller.
func Options() *openapi3filter.Options {
	return &openapi3filter.Options{
		MultiError:              true,
		AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
	}
}

// NonUTF8Field names the top-level member of a JSON body whose text is not UTF-8 ("body" when it
// cannot tell). encoding/json would silently replace such bytes with U+FFFD.
func NonUTF8Field(body []byte) string {
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

// FieldErrors flattens kin-openapi's errors into one entry per field. It looks at each error's own
// type before unwrapping it: a RequestError wraps the schema errors of its parameter.
func FieldErrors(err error) []api.FieldError {
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
			f, msg := joinPointer(field, e.JSONPointer()), e.Reason
			switch m := unsupportedProperty.FindStringSubmatch(msg); {
			case m != nil:
				f, msg = joinPointer(field, []string{m[1]}), "is not a known field"
			case e.SchemaField == "required":
				msg = "is required"
			case e.SchemaField == "nullable":
				msg = "cannot be null"
			case e.SchemaField == "oneOf" && allowed(e.Schema) != "":
				msg = "must be one of " + allowed(e.Schema)
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

// allowed lists the values a schema's enum allows, as JSON ("0", "1", 0, 1); "" when it has none.
// kin-openapi words a value outside a oneOf of enums (status: the string or the integer) as
// matching no schema, without saying what would.
func allowed(s *openapi3.Schema) string {
	if s == nil || len(s.Enum) == 0 {
		return ""
	}
	vals := make([]string, len(s.Enum))
	for i, v := range s.Enum {
		b, _ := json.Marshal(v)
		vals[i] = string(b)
	}
	return strings.Join(vals, ", ")
}

// joinPointer names a body member: "region_name", "scopes[1]". Query parameters and headers keep
// their own names ("status[0]").
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

// NewRegion is the region a create body describes, with the API's defaults: status "1" (enabled),
// scope "private", "" for the optional strings, and none for a TLS field that is null or "".
func NewRegion(b api.RegionCreate) region.Region {
	return region.Region{
		RegionName:  b.RegionName,
		RegionAlias: b.RegionAlias,
		URL:         b.Url,
		WSURL:       Or(b.Wsurl, ""),
		HTTPDomain:  Or(b.Httpdomain, ""),
		TCPDomain:   Or(b.Tcpdomain, ""),
		Status:      StatusOr(b.Status, region.Status(api.RegionStatusEnabled)),
		Desc:        Or(b.Desc, ""),
		Scope:       region.Scope(Or(b.Scope, api.RegionScopePrivate)),
		SSLCACert:   TLSValue(b.SslCaCert),
		CertFile:    TLSValue(b.CertFile),
		KeyFile:     TLSValue(b.KeyFile),
	}
}

// StatusOr is the status a request sets, def when it sets none. Requests carry it as the string
// "0".."3" or, as Rainbond's own OpenAPI document declares it, the integer 0..3: both are the same
// status, stored and answered as the string.
func StatusOr(in *api.RegionStatusInput, def region.Status) region.Status {
	if in == nil {
		return def
	}
	if st, err := in.AsRegionStatus(); err == nil {
		return region.Status(st)
	}
	// A JSON number: JSON Schema's integer 1 is also 1.0 and 1e0, which the validator lets through.
	raw, _ := in.MarshalJSON()
	var n float64
	if err := json.Unmarshal(raw, &n); err == nil && n == math.Trunc(n) && n >= 0 && n <= 3 {
		return region.Status(strconv.Itoa(int(n)))
	}
	return def // unreachable once the request is validated: the schema allows no other value
}

// TLSValue reads a TLS field of a request: null and "" both mean none.
func TLSValue(n nullable.Nullable[string]) *string {
	v, err := n.Get()
	if err != nil || v == "" {
		return nil
	}
	return &v
}

// Or is *p, or def when p is nil: an optional member of an API model, with its default.
func Or[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
