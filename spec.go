// Package regiond holds openapi.yaml, the API description everything else is generated from,
// so that the server can serve the document exactly as it is written.
package regiond

import _ "embed"

// OpenAPI is the text of openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
