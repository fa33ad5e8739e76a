//go:build tools

// This file pins the code generators and API tools this repository runs with `go run`,
// so a fresh clone needs nothing installed beyond Go.
package regiond

import (
	_ "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen"
	// oasdiff is the breaking-change gate of `make api-diff`.
	_ "github.com/oasdiff/oasdiff"
	// staticcheck is the Go linter of `make lint`.
	_ "honnef.co/go/tools/cmd/staticcheck"
)
