package server

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"

	"github.com/regiond/regiond/internal/token"
)

// operation is what the spec says about one operation, looked up once at start-up so that each
// request finds it with one map lookup on Echo's matched route.
type operation struct {
	id string
	// route is handed to kin-openapi as is: no second router matches the request again.
	route *routers.Route
	// secured: the operation has a security requirement (every /openapi/v1 operation).
	secured bool
	// scopes the token must hold, from the operation's x-required-scopes.
	scopes []token.Scope
	// mediaTypes the request body may have; none for operations without a body.
	mediaTypes []string
	// cacheable: a response the caller's private cache may keep when it holds no TLS material.
	cacheable bool
	// allOptional: no body, no path parameter, every parameter optional; a request that sends
	// none of them (no query string, none of headerParams) is valid by construction.
	allOptional  bool
	headerParams []string
	// queryParams are the names of the operation's query parameters.
	queryParams []string
}

// operations indexes the spec's operations by method and Echo route path.
type operations map[string]map[string]*operation

func (ops operations) find(method, echoPath string) *operation { return ops[method][echoPath] }

// echoPath converts an OpenAPI path template to Echo's, as oapi-codegen registers it.
func echoPath(basePath, path string) string {
	var b strings.Builder
	b.WriteString(basePath)
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

// loadOperations reads every operation of the spec. It fails when a secured operation names no
// scope, so that an operation can never be reachable by every token by accident.
func loadOperations(spec *openapi3.T, basePath string) (operations, error) {
	ops := operations{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			o := &operation{
				id:    op.OperationID,
				route: &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: op},
				// Region reads: they carry TLS material only for tokens holding regions:secrets.
				cacheable: op.OperationID == "listRegions" || op.OperationID == "getRegion",
			}
			security := spec.Security
			if op.Security != nil {
				security = *op.Security
			}
			o.secured = len(security) > 0
			if raw, ok := op.Extensions["x-required-scopes"].([]any); ok {
				for _, s := range raw {
					o.scopes = append(o.scopes, token.Scope(fmt.Sprint(s)))
				}
			}
			if o.secured && len(o.scopes) == 0 {
				return nil, fmt.Errorf("operation %s is secured but has no x-required-scopes", op.OperationID)
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for mt := range op.RequestBody.Value.Content {
					o.mediaTypes = append(o.mediaTypes, mt)
				}
			}
			o.allOptional = op.RequestBody == nil
			for _, p := range append(item.Parameters, op.Parameters...) {
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
			if ops[method] == nil {
				ops[method] = map[string]*operation{}
			}
			ops[method][echoPath(basePath, path)] = o
		}
	}
	return ops, nil
}
