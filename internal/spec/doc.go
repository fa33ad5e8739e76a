// Package spec keeps openapi.yaml a product for the people who consume it: its tests check that
// every operation is documented (summary, description, tags, examples, security and scopes, every
// status the server can answer), that every example in the document is valid against its schema,
// and that `make api-diff` — the breaking-change gate — fails on a breaking change.
package spec
