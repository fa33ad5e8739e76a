// Package generators holds the test that generates regiond clients from openapi.yaml with the
// recipes docs/consumers.md gives — ogen, oapi-codegen, openapi-typescript with openapi-fetch —
// builds a consumer program on each (testdata/), and runs it against a live server, so that
// `make test` proves every documented generator reads the spec cleanly and its client works.
package generators
