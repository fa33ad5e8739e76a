package spec

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/regiond/regiond"
)

// root is the repository, from this package's directory.
const root = "../.."

// TestAPIDiffGate runs scripts/api-diff.sh — what `make api-diff` runs — on the current spec
// (it must pass), and on copies of it with one change each: every breaking change must fail the
// gate with the check that names it, and every compatible change must pass.
func TestAPIDiffGate(t *testing.T) {
	oasdiff := buildOasdiff(t)

	t.Run("the current spec against the last release", func(t *testing.T) {
		if out, err := apiDiff(t, oasdiff, root, nil); err != nil {
			t.Fatalf("make api-diff fails on the current spec: %v\n%s", err, out)
		}
	})

	for _, tc := range []struct {
		name   string
		change func(doc *openapi3.T)
		want   string // the oasdiff check that must fail the gate; "" when the gate must pass
	}{
		{"unchanged, re-serialised as JSON", func(*openapi3.T) {}, ""},
		{"an operation removed", func(doc *openapi3.T) {
			doc.Paths.Value("/openapi/v1/regions/{region_id}").Delete = nil
		}, "api-removed-without-deprecation"},
		{"an optional request field made required", func(doc *openapi3.T) {
			s := doc.Components.Schemas["RegionCreate"].Value
			s.Required = append(s.Required, "wsurl")
		}, "request-property-became-required"},
		{"a response field removed", func(doc *openapi3.T) {
			delete(doc.Components.Schemas["RegionInfoResp"].Value.Properties, "region_id")
		}, "response-optional-property-removed"},
		{"a required response field removed", func(doc *openapi3.T) {
			s := doc.Components.Schemas["RegionInfoResp"].Value
			delete(s.Properties, "desc")
			s.Required = slices.DeleteFunc(s.Required, func(n string) bool { return n == "desc" })
		}, "response-required-property-removed"},
		{"an enum value removed", func(doc *openapi3.T) {
			s := doc.Components.Schemas["RegionScope"].Value
			s.Enum = []any{"private"}
		}, "enum-value-removed"},
		{"a limit narrowed", func(doc *openapi3.T) {
			doc.Components.Schemas["RegionName"].Value.MaxLength = openapi3.Ptr[uint64](32)
		}, "request-property-max-length-decreased"},
		{"a success status changed", func(doc *openapi3.T) {
			rs := doc.Paths.Value("/openapi/v1/regions").Post.Responses
			rs.Set("200", rs.Value("201"))
			rs.Delete("201")
		}, "response-success-status-removed"},
		{"an error status removed", func(doc *openapi3.T) {
			doc.Paths.Value("/openapi/v1/regions").Post.Responses.Delete("409")
		}, "response-non-success-status-removed"},
		{"an operationId renamed", func(doc *openapi3.T) {
			doc.Paths.Value("/openapi/v1/regions/{region_id}").Get.OperationID = "fetchRegion"
		}, "api-operation-id-removed"},
		{"a query parameter removed", func(doc *openapi3.T) {
			get := doc.Paths.Value("/openapi/v1/regions").Get
			get.Parameters = slices.DeleteFunc(get.Parameters, func(p *openapi3.ParameterRef) bool { return p.Value.Name == "q" })
		}, "request-parameter-removed"},
		{"documentation edited", func(doc *openapi3.T) {
			doc.Info.Description = "Rewritten."
			doc.Paths.Value("/openapi/v1/regions").Get.Summary = "List the regions"
			doc.Components.Schemas["RegionInfoResp"].Value.Properties["desc"].Value.Example = "Another description"
		}, ""},
		{"an optional response field and an operation added", func(doc *openapi3.T) {
			doc.Components.Schemas["RegionInfoResp"].Value.Properties["labels"] = openapi3.NewSchemaRef("", openapi3.NewStringSchema())
			doc.Paths.Value("/openapi/v1/regions/{region_id}").Head = &openapi3.Operation{
				OperationID: "headRegion", Summary: "Check a region", Responses: openapi3.NewResponses(),
			}
		}, ""},
		{"a limit widened", func(doc *openapi3.T) {
			doc.Components.Schemas["RegionDesc"].Value.MaxLength = openapi3.Ptr[uint64](400)
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := loadSpec(t)
			tc.change(doc)
			revision := filepath.Join(t.TempDir(), "openapi.json")
			writeJSON(t, revision, doc)
			out, err := apiDiff(t, oasdiff, root, []string{"API_DIFF_REVISION=" + revision})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("the gate fails on a compatible change: %v\n%s", err, out)
			case tc.want != "" && err == nil:
				t.Errorf("the gate passes a breaking change (want %s):\n%s", tc.want, out)
			case tc.want != "" && !strings.Contains(out, tc.want):
				t.Errorf("the gate fails, but not with %s:\n%s", tc.want, out)
			}
		})
	}
}

// TestAPIDiffBaseFromTag shows which document the gate compares with: the openapi.yaml of the
// newest release tag, ahead of the committed baseline and ignoring pre-release tags.
func TestAPIDiffBaseFromTag(t *testing.T) {
	oasdiff := buildOasdiff(t)
	repo := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	copyFile(t, filepath.Join(root, "scripts", "api-diff.sh"), filepath.Join(repo, "scripts", "api-diff.sh"))
	copyFile(t, filepath.Join(root, "api", "breaking-levels.txt"), filepath.Join(repo, "api", "breaking-levels.txt"))

	// Releases: v1.0.0 is the current spec; a later pre-release v1.1.0-rc.1 lacks deleteRegion.
	// The working tree lacks deleteRegion too, and so does its baseline: only the tag v1.0.0
	// makes the gate fail.
	writeFile(t, filepath.Join(repo, "openapi.yaml"), regiond.OpenAPI)
	writeFile(t, filepath.Join(repo, "api", "baseline", "openapi.yaml"), regiond.OpenAPI)
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "v1.0.0")
	git("tag", "v1.0.0")
	broken := loadSpec(t)
	broken.Paths.Value("/openapi/v1/regions/{region_id}").Delete = nil
	writeJSON(t, filepath.Join(repo, "openapi.yaml"), broken) // JSON is YAML
	writeJSON(t, filepath.Join(repo, "api", "baseline", "openapi.yaml"), broken)
	git("commit", "-q", "-am", "remove deleteRegion")
	git("tag", "v1.1.0-rc.1")

	out, err := apiDiff(t, oasdiff, repo, nil)
	if err == nil || !strings.Contains(out, "openapi.yaml of v1.0.0") || !strings.Contains(out, "api-removed-without-deprecation") {
		t.Fatalf("the gate did not compare with v1.0.0 and fail (err %v):\n%s", err, out)
	}

	// Once v1.1.0 is released without deleteRegion, the same tree passes.
	git("tag", "v1.1.0")
	if out, err := apiDiff(t, oasdiff, repo, nil); err != nil || !strings.Contains(out, "openapi.yaml of v1.1.0") {
		t.Fatalf("the gate did not compare with v1.1.0 and pass (err %v):\n%s", err, out)
	}
}

var oasdiffOnce struct {
	sync.Once
	bin string
	err error
	out []byte
}

// buildOasdiff builds the pinned oasdiff once for the package's tests, so that each case runs the
// binary rather than `go run` (which would link it again for every case).
func buildOasdiff(t *testing.T) string {
	t.Helper()
	o := &oasdiffOnce
	o.Do(func() {
		dir, err := os.MkdirTemp("", "regiond-oasdiff-")
		if err != nil {
			o.err = err
			return
		}
		o.bin = filepath.Join(dir, "oasdiff")
		cmd := exec.Command("go", "build", "-o", o.bin, "github.com/oasdiff/oasdiff")
		cmd.Dir = root
		o.out, o.err = cmd.CombinedOutput()
	})
	if o.err != nil {
		t.Fatalf("building oasdiff: %v\n%s", o.err, o.out)
	}
	return o.bin
}

// TestMain removes the oasdiff binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if oasdiffOnce.bin != "" {
		os.RemoveAll(filepath.Dir(oasdiffOnce.bin))
	}
	os.Exit(code)
}

// apiDiff runs the gate script of the repository at dir and returns its output.
func apiDiff(t *testing.T, oasdiff, dir string, env []string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(dir, "scripts", "api-diff.sh"))
	cmd.Env = append(append(os.Environ(), "OASDIFF="+oasdiff), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(regiond.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return doc
}

func writeJSON(t *testing.T, path string, doc *openapi3.T) {
	t.Helper()
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, b)
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, b)
}
