//go:build tools

// Package tools pins the code generators and API tools this repository runs with `go run`,
// so a fresh clone needs nothing installed beyond Go.
package tools

import (
	_ "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen"
)
