package spec

import (
	"maps"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/regiond/regiond"
)

// TestEveryResponseDeclaresRequestID: the server sends X-Request-ID on every response, so every
// response of openapi.yaml declares it, with the one shared header component — generated clients
// then expose it on every answer, errors included.
func TestEveryResponseDeclaresRequestID(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(regiond.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	paths := doc.Paths.Map()
	for _, path := range slices.Sorted(maps.Keys(paths)) {
		ops := paths[path].Operations()
		for _, method := range slices.Sorted(maps.Keys(ops)) {
			responses := ops[method].Responses.Map()
			for _, status := range slices.Sorted(maps.Keys(responses)) {
				h := responses[status].Value.Headers["X-Request-ID"]
				if h == nil || h.Ref != "#/components/headers/XRequestID" {
					t.Errorf("%s %s response %s: no X-Request-ID header ($ref: '#/components/headers/XRequestID')", method, path, status)
				}
			}
		}
	}
}
