package regionctl_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/testsupport/apitest"
)

// validate runs regionctl validate with no server and no token: it must need neither.
func validate(t *testing.T, operation, body string, extra ...string) result {
	t.Helper()
	h := &harness{t: t, env: map[string]string{}}
	return h.runIn(body, append([]string{"validate", "--operation", operation, "-f", "-"}, extra...)...)
}

func TestValidate(t *testing.T) {
	valid := `{"region_name":"rainbond-hz","region_alias":"Hangzhou","url":"https://region-hz.example.com:8443","status":"1"}`
	if r := validate(t, "createRegion", valid); r.code != 0 || r.stdout != "stdin: valid createRegion request body\n" {
		t.Fatalf("valid body: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r := validate(t, "createRegion", `{"region_name":"Rainbond HZ","url":5,"owner":"me"}`)
	want := "stdin: invalid createRegion request body:\n" +
		"  owner: is not a known field\n" +
		"  region_name: string doesn't match the regular expression \"^[a-z]([-a-z0-9]*[a-z0-9])?$\"\n" +
		"  url: value must be a string\n" +
		"  region_alias: is required\n"
	if r.code != 1 || r.stdout != want {
		t.Fatalf("invalid body: %d\n%s\nwant\n%s", r.code, r.stdout, want)
	}
	if r := validate(t, "updateRegion", `{"status":"2"}`); r.code != 0 {
		t.Fatalf("a merge patch: %d %q", r.code, r.stdout)
	}
	if r := validate(t, "updateRegion", `{}`); r.code != 1 || !strings.Contains(r.stdout, "  body: ") {
		t.Fatalf("an empty merge patch: %d %q", r.code, r.stdout)
	}
	if r := validate(t, "createToken", `{"scopes":["regions:read","regions:root"]}`); r.code != 1 || !strings.Contains(r.stdout, "  scopes[1]: ") {
		t.Fatalf("a bad scope: %d %q", r.code, r.stdout)
	}
	// A file, and the JSON report.
	h := &harness{t: t, env: map[string]string{}}
	path := h.file("region.json", `{"region_name":"rainbond-hz","region_alias":"Hangzhou","url":"gopher://x"}`)
	r = h.run("validate", "--operation", "replaceRegion", "-f", path, "-o", "json")
	var errs []api.FieldError
	if err := json.Unmarshal([]byte(r.stdout), &errs); err != nil || r.code != 1 ||
		!reflect.DeepEqual(errs, []api.FieldError{{Field: "url", Message: "must be an absolute http or https URL with a host"}}) {
		t.Fatalf("-o json: %d %v %q", r.code, err, r.stdout)
	}
	if r := h.run("validate", "--operation", "createRegion", "-f", h.file("ok.json", valid), "-o", "json"); r.code != 0 || r.stdout != "[]\n" {
		t.Fatalf("-o json of a valid body: %d %q", r.code, r.stdout)
	}

	// Usage errors: exit 2, naming the operations that take a body.
	h.fails(2, []string{`--operation: "getRegion" is not an operation with a request body; use one of createRegion, createToken, replaceRegion, updateRegion`},
		"validate", "--operation", "getRegion", "-f", path)
	h.fails(2, []string{"missing flags: --operation=ID"}, "validate", "-f", path)
	h.fails(2, []string{"no such file"}, "validate", "--operation", "createRegion", "-f", path+".missing")
}

// TestValidateYAML: validate reads YAML as create and apply do (a plain `status: 1` is the
// string "1"), and checks the JSON it becomes exactly as it checks JSON.
func TestValidateYAML(t *testing.T) {
	valid := "region_name: rainbond-hz\nregion_alias: Hangzhou\nurl: https://region-hz.example.com:8443\nstatus: 1\n"
	if r := validate(t, "createRegion", valid); r.code != 0 || r.stdout != "stdin: valid createRegion request body\n" {
		t.Fatalf("valid YAML: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := validate(t, "updateRegion", "status: 3\ndesc: in maintenance\nssl_ca_cert: null\n"); r.code != 0 {
		t.Fatalf("a YAML merge patch: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r := validate(t, "createRegion", "region_name: Rainbond HZ\nurl: [5]\nowner: me\n")
	want := "stdin: invalid createRegion request body:\n" +
		"  owner: is not a known field\n" +
		"  region_name: string doesn't match the regular expression \"^[a-z]([-a-z0-9]*[a-z0-9])?$\"\n" +
		"  url: value must be a string\n" +
		"  region_alias: is required\n"
	if r.code != 1 || r.stdout != want {
		t.Fatalf("invalid YAML body: %d\n%s\nwant\n%s", r.code, r.stdout, want)
	}
	if r := validate(t, "createToken", "scopes: [regions:read]\nexpires_at: 2027-02-18T09:30:00Z\n"); r.code != 0 {
		t.Fatalf("a YAML token body: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := validate(t, "createRegion", "region_name: [\n"); r.code != 1 || !strings.Contains(r.stdout, "  body: is not valid YAML") {
		t.Fatalf("a body that is not YAML: %d %q %q", r.code, r.stdout, r.stderr)
	}
}

// TestValidateMatchesServer sends bodies to a real server and to validate: both must name the
// same fields with the same messages (400 and 422 alike), and agree on what is valid.
func TestValidateMatchesServer(t *testing.T) {
	h := start(t, apitest.Options{})
	id := h.create("rainbond-hz", api.RegionStatusEnabled, api.RegionScopePrivate)
	region := func(path string) string { return "/openapi/v1/regions" + path }
	cases := []struct {
		operation, method, path, contentType, body string
	}{
		{"createRegion", "POST", region(""), "application/json", `{"region_name":"rainbond-sh","region_alias":"Shanghai","url":"https://sh.example.com"}`},
		{"createRegion", "POST", region(""), "application/json", `{"region_name":"-bad-","region_alias":"","url":"https://sh.example.com","status":"9","scope":"world","extra":true}`},
		{"createRegion", "POST", region(""), "application/json", `{"region_name":"rainbond-xa","region_alias":"Xian","url":"ftp://xa","wsurl":"https://xa","httpdomain":"a b","tcpdomain":"-x-"}`},
		{"createRegion", "POST", region(""), "application/json", `{"region_name":"rainbond-xa","region_alias":"Xian","url":"https://xa.example.com","cert_file":"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"}`},
		{"createRegion", "POST", region(""), "application/json", `{"region_name":"rainbond-xa",`},
		{"createRegion", "POST", region(""), "application/json", `["not","an","object"]`},
		{"createRegion", "POST", region(""), "application/json", "{\"region_name\":\"x\",\"region_alias\":\"\xff\",\"url\":\"https://x\"}"},
		{"createRegion", "POST", region(""), "application/json", `{"region_name":"x","region_alias":"x","url":"https://x","desc":null}`},
		{"replaceRegion", "PUT", region("/" + id), "application/json", `{"region_name":"rainbond-hz","region_alias":"Hangzhou","url":"https://hz.example.com","status":"3"}`},
		{"replaceRegion", "PUT", region("/" + id), "application/json", `{"region_alias":"Hangzhou","url":"http://"}`},
		{"updateRegion", "PATCH", region("/" + id), "application/merge-patch+json", `{"desc":"patched"}`},
		{"updateRegion", "PATCH", region("/" + id), "application/merge-patch+json", `{"url":null,"status":3,"wsurl":"` + strings.Repeat("w", 300) + `"}`},
		{"createToken", "POST", "/openapi/v1/tokens", "application/json", `{"scopes":["regions:read"],"note":"ci"}`},
		{"createToken", "POST", "/openapi/v1/tokens", "application/json", `{"scopes":[],"expires_at":"tomorrow","admin":1}`},
	}
	for _, tc := range cases {
		resp, body := h.e.Do(tc.method, tc.path, h.e.Admin, tc.contentType, []byte(tc.body))
		var serverErrs []api.FieldError
		if resp.StatusCode >= 400 {
			var p api.Problem
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("%s %s: %v", tc.operation, tc.body, err)
			}
			if p.Errors == nil {
				t.Fatalf("%s %s: %d without errors: %s", tc.operation, tc.body, resp.StatusCode, body)
			}
			serverErrs = *p.Errors
		} else if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
			t.Fatalf("%s %s: %d", tc.operation, tc.body, resp.StatusCode)
		}

		r := validate(t, tc.operation, tc.body, "-o", "json")
		var ours []api.FieldError
		if err := json.Unmarshal([]byte(r.stdout), &ours); err != nil {
			t.Fatalf("%s %s: %v %q %q", tc.operation, tc.body, err, r.stdout, r.stderr)
		}
		if (r.code == 0) != (len(serverErrs) == 0) || !sameErrors(ours, serverErrs) {
			t.Errorf("%s %s:\n validate (exit %d): %v\n server (%d):       %v", tc.operation, tc.body, r.code, ours, resp.StatusCode, serverErrs)
		}
	}
}

func sameErrors(a, b []api.FieldError) bool {
	key := func(errs []api.FieldError) []string {
		out := make([]string, len(errs))
		for i, e := range errs {
			out[i] = e.Field + ": " + e.Message
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}
