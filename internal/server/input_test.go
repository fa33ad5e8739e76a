package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
)

// boundedProblem is a problem's members that say how much was left out.
type boundedProblem struct {
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
	ErrorsOmitted int `json:"errors_omitted"`
}

// TestErrorBodiesAreBounded: a body of 90,000 unknown members (within the 1 MiB body limit) gets a
// problem of a few KiB, not ten times the request: the errors list and the detail are capped, and
// errors_omitted says how many entries were left out. A member name of 40 KB is cut short too.
func TestErrorBodiesAreBounded(t *testing.T) {
	e := apitest.Start(t, dbtest.SQLite(t), apitest.Options{})
	const unknown = 90_000
	var b strings.Builder
	b.WriteString(`{"region_name":"big","region_alias":"A","url":"https://big.example.com"`)
	for i := 0; i < unknown; i++ {
		fmt.Fprintf(&b, `,"m%05d":1`, i)
	}
	b.WriteString("}")
	if b.Len() > 1<<20 {
		t.Fatalf("the body is %d bytes, over the body limit", b.Len())
	}
	resp, body := e.Do("POST", "/openapi/v1/regions", e.Admin, "application/json", []byte(b.String()))
	problemOf(t, resp, body, 400)
	var p boundedProblem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	t.Logf("a %d-byte body with %d unknown members: a %d-byte problem with %d errors, %d omitted", b.Len(), unknown, len(body), len(p.Errors), p.ErrorsOmitted)
	if len(body) > 4096 {
		t.Errorf("the problem is %d bytes", len(body))
	}
	if len(p.Errors) == 0 || len(p.Errors)+p.ErrorsOmitted != unknown {
		t.Errorf("%d errors and errors_omitted %d; want %d in all", len(p.Errors), p.ErrorsOmitted, unknown)
	}
	for _, f := range p.Errors {
		if !strings.HasPrefix(f.Field, "m") || f.Message != "is not a known field" {
			t.Errorf("entry %+v", f)
		}
	}

	long := strings.Repeat("n", 40_000)
	resp, body = e.Do("POST", "/openapi/v1/regions", e.Admin, "application/json",
		[]byte(`{"region_name":"big","region_alias":"A","url":"https://big.example.com","`+long+`":1}`))
	problemOf(t, resp, body, 400)
	p = boundedProblem{}
	json.Unmarshal(body, &p)
	if len(body) > 4096 || len(p.Errors) != 1 || !strings.HasPrefix(p.Errors[0].Field, "nnnn") || p.ErrorsOmitted != 0 {
		t.Errorf("a member with a 40 KB name: %d bytes: %.300s", len(body), body)
	}
}

// TestTrailingDataAfterTheBody: a body is one JSON value. Anything after it but whitespace — text,
// a second document — is a 400 naming body that changes nothing, on every operation with a body.
func TestTrailingDataAfterTheBody(t *testing.T) {
	e := apitest.Start(t, dbtest.SQLite(t), apitest.Options{})
	id, _ := createRegion(t, e, "trail")
	region := `{"region_name":"trail","region_alias":"B","url":"https://trail.example.com"}`
	ops := []struct{ name, method, path, ct, body string }{
		{"create", "POST", "/openapi/v1/regions", "application/json", `{"region_name":"trail-new","region_alias":"A","url":"https://n.example.com"}`},
		{"replace", "PUT", "/openapi/v1/regions/" + id, "application/json", region},
		{"patch", "PATCH", "/openapi/v1/regions/" + id, "application/merge-patch+json", `{"desc":"patched"}`},
		{"token create", "POST", "/openapi/v1/tokens", "application/json", `{"scopes":["regions:read"]}`},
	}
	for _, op := range ops {
		for _, trailer := range []string{"xyz", op.body, "]", ` "x"`, "\x00"} {
			t.Run(op.name+" "+fmt.Sprintf("%.8q", trailer), func(t *testing.T) {
				before := e.Snapshot()
				resp, body := e.Do(op.method, op.path, e.Admin, op.ct, []byte(op.body+trailer))
				p := problemOf(t, resp, body, 400)
				if p.Errors == nil || (*p.Errors)[0].Field != "body" {
					t.Fatalf("body not named: %s", body)
				}
				if after := e.Snapshot(); after != before {
					t.Fatal("the refused request changed the database")
				}
			})
		}
		t.Run(op.name+" whitespace", func(t *testing.T) {
			resp, body := e.Do(op.method, op.path, e.Admin, op.ct, []byte(op.body+" \r\n\t\n"))
			if resp.StatusCode >= 300 {
				t.Fatalf("trailing whitespace: %d %s", resp.StatusCode, body)
			}
		})
	}
}

// TestTextParametersMustBeText: a query or path parameter holding NUL or bytes that are not UTF-8
// is a 400 naming it, on both backends — before, q=%00 matched every region on SQLite and q=%ff
// every region on MariaDB.
func TestTextParametersMustBeText(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{})
		id, _ := createRegion(t, e, "text-a")
		createRegion(t, e, "text-b")
		tokenID := "tok_x"
		cases := []struct{ method, path, field string }{}
		for _, bad := range []string{"%00", "a%00b", "%ff", "x%c3%28y", "%ed%a0%80"} {
			cases = append(cases,
				struct{ method, path, field string }{"GET", "/openapi/v1/regions?q=" + bad, "q"},
				struct{ method, path, field string }{"GET", "/openapi/v1/regions?limit=5&q=" + bad, "q"},
				struct{ method, path, field string }{"GET", "/openapi/v1/regions?limit=5&page_token=" + bad, "page_token"},
				struct{ method, path, field string }{"GET", "/openapi/v1/tokens?page_token=" + bad, "page_token"},
				struct{ method, path, field string }{"GET", "/openapi/v1/audit?page_token=" + bad, "page_token"},
				struct{ method, path, field string }{"GET", "/openapi/v1/regions/" + id + bad, "region_id"},
				struct{ method, path, field string }{"DELETE", "/openapi/v1/regions/" + bad, "region_id"},
				struct{ method, path, field string }{"GET", "/openapi/v1/tokens/" + tokenID + bad, "token_id"},
				struct{ method, path, field string }{"DELETE", "/openapi/v1/tokens/" + bad + tokenID, "token_id"},
			)
		}
		for _, c := range cases {
			before := e.Snapshot()
			resp, body := e.Do(c.method, c.path, e.Admin, "", nil)
			if resp.StatusCode != 400 {
				t.Errorf("%s %s: %d, want 400: %.200s", c.method, c.path, resp.StatusCode, body)
				continue
			}
			p := problemOf(t, resp, body, 400)
			if p.Errors == nil || (*p.Errors)[0].Field != c.field {
				t.Errorf("%s %s: %s not named: %s", c.method, c.path, c.field, body)
			}
			if e.Snapshot() != before {
				t.Fatalf("%s %s changed the database", c.method, c.path)
			}
		}
		// Text that is UTF-8 still filters.
		if resp, body := e.Do("GET", "/openapi/v1/regions?q=xt-"+"%C3%A9", e.Admin, "", nil); resp.StatusCode != 200 || string(body) != "[]" {
			t.Fatalf("q=xt-é: %d %s", resp.StatusCode, body)
		}
		if resp, body := e.Do("GET", "/openapi/v1/regions?q=xt-a", e.Admin, "", nil); resp.StatusCode != 200 || !strings.Contains(string(body), `"text-a"`) || strings.Contains(string(body), `"text-b"`) {
			t.Fatalf("q=xt-a: %d %s", resp.StatusCode, body)
		}
	})
}
