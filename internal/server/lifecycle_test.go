package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/oapi-codegen/nullable"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/testsupport/testpki"
	"github.com/regiond/regiond/internal/token"
)

func str(s string) *string { return &s }

// TestLifecycle drives a region through its whole life with the generated Go client.
func TestLifecycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{})
		c := e.Client(e.Admin)
		ctx := context.Background()
		cert, key := testpki.Pair(t, "lifecycle")

		// Create: 201, Location, ETag, the server-made id, defaults applied.
		created, err := c.CreateRegionWithResponse(ctx, api.RegionCreate{
			RegionName: "rainbond-hz", RegionAlias: "Hangzhou", Url: "https://region-hz.example.com:8443",
			Wsurl: str("wss://region-hz.example.com:6060"), Httpdomain: str("apps-hz.example.com"), Tcpdomain: str("10.0.3.17"),
			SslCaCert: nullable.NewNullableWithValue(cert), CertFile: nullable.NewNullableWithValue(cert), KeyFile: nullable.NewNullableWithValue(key),
		})
		if err != nil || created.StatusCode() != http.StatusCreated {
			t.Fatalf("create: %v %d %s", err, created.StatusCode(), created.Body)
		}
		r := created.JSON201
		id := r.RegionId
		if len(id) != 36 || r.Status != api.RegionStatusEnabled || r.Scope != api.RegionScopePrivate || r.Wsurl != "wss://region-hz.example.com:6060" {
			t.Fatalf("created: %+v", r)
		}
		if loc := created.HTTPResponse.Header.Get("Location"); loc != "/openapi/v1/regions/"+id {
			t.Fatalf("Location %q", loc)
		}
		if got, _ := r.KeyFile.Get(); got != key {
			t.Fatal("an admin (regions:secrets) does not get key_file back")
		}
		etag := created.HTTPResponse.Header.Get("ETag")

		// Read it back: the same representation, the same tag.
		got, err := c.GetRegionWithResponse(ctx, id, nil)
		if err != nil || got.StatusCode() != 200 || got.HTTPResponse.Header.Get("ETag") != etag || got.JSON200.RegionName != "rainbond-hz" {
			t.Fatalf("get: %v %d", err, got.StatusCode())
		}
		notModified, _ := c.GetRegionWithResponse(ctx, id, &api.GetRegionParams{IfNoneMatch: &etag})
		if notModified.StatusCode() != http.StatusNotModified || len(notModified.Body) != 0 {
			t.Fatalf("If-None-Match: %d", notModified.StatusCode())
		}

		// The list: one region, key_file never in it, even for an admin.
		list, err := c.ListRegionsWithResponse(ctx, nil)
		if err != nil || list.StatusCode() != 200 || len(*list.JSON200) != 1 {
			t.Fatalf("list: %v %d %s", err, list.StatusCode(), list.Body)
		}
		if item := (*list.JSON200)[0]; !item.KeyFile.IsNull() || item.CertFile.IsNull() {
			t.Fatalf("list TLS fields for an admin: key_file null %v, cert_file null %v", item.KeyFile.IsNull(), item.CertFile.IsNull())
		}

		// Replace: every field; TLS left out is cleared for a secrets holder.
		replaced, err := c.ReplaceRegionWithResponse(ctx, id, &api.ReplaceRegionParams{IfMatch: &etag}, api.RegionReplace{
			RegionName: "rainbond-hz", RegionAlias: "Hangzhou 2", Url: "http://10.0.0.1:8443", Status: apitest.Status(api.RegionStatusMaintenance),
		})
		if err != nil || replaced.StatusCode() != 200 {
			t.Fatalf("replace: %v %d %s", err, replaced.StatusCode(), replaced.Body)
		}
		rr := replaced.JSON200
		if rr.RegionAlias != "Hangzhou 2" || rr.Wsurl != "" || rr.Status != api.RegionStatusMaintenance || !rr.SslCaCert.IsNull() || !rr.KeyFile.IsNull() {
			t.Fatalf("replaced: %+v", rr)
		}
		etag2 := replaced.HTTPResponse.Header.Get("ETag")
		if etag2 == etag {
			t.Fatal("ETag did not change")
		}
		// The old tag no longer matches: 412, nothing written.
		stale, _ := c.ReplaceRegionWithResponse(ctx, id, &api.ReplaceRegionParams{IfMatch: &etag}, api.RegionReplace{
			RegionName: "rainbond-hz", RegionAlias: "lost update", Url: "http://10.0.0.1:8443"})
		if stale.StatusCode() != http.StatusPreconditionFailed {
			t.Fatalf("stale If-Match: %d", stale.StatusCode())
		}

		// Merge patch: absent keeps, a value sets, null clears.
		patched, err := c.UpdateRegionWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, id, nil, api.RegionPatch{
			Desc: str("in maintenance"), SslCaCert: nullable.NewNullableWithValue(cert)})
		if err != nil || patched.StatusCode() != 200 {
			t.Fatalf("patch: %v %d %s", err, patched.StatusCode(), patched.Body)
		}
		if p := patched.JSON200; p.Desc != "in maintenance" || p.RegionAlias != "Hangzhou 2" || p.Status != api.RegionStatusMaintenance || p.SslCaCert.IsNull() {
			t.Fatalf("patched: %+v", p)
		}
		cleared, _ := c.UpdateRegionWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, id, nil, api.RegionPatch{
			SslCaCert: nullable.NewNullNullable[string]()})
		if cleared.StatusCode() != 200 || !cleared.JSON200.SslCaCert.IsNull() || cleared.JSON200.Desc != "in maintenance" {
			t.Fatalf("patch null: %d %s", cleared.StatusCode(), cleared.Body)
		}

		// Delete: 204, then 404.
		del, err := c.DeleteRegionWithResponse(ctx, id, nil)
		if err != nil || del.StatusCode() != http.StatusNoContent {
			t.Fatalf("delete: %v %d", err, del.StatusCode())
		}
		gone, _ := c.GetRegionWithResponse(ctx, id, nil)
		if gone.StatusCode() != http.StatusNotFound || gone.ApplicationproblemJSON404 == nil {
			t.Fatalf("after delete: %d", gone.StatusCode())
		}
		if empty, _ := c.ListRegionsWithResponse(ctx, nil); len(*empty.JSON200) != 0 {
			t.Fatal("list after delete is not empty")
		}

		// The audit trail has the whole story, newest first.
		audit, _ := c.ListAuditEventsWithResponse(ctx, nil)
		var ops []string
		for _, ev := range *audit.JSON200 {
			if ev.TargetId == id {
				ops = append(ops, string(ev.Operation))
			}
		}
		if strings.Join(ops, ",") != "region.delete,region.update,region.update,region.replace,region.create" {
			t.Fatalf("audit: %v", ops)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// seedFields are the 13 members of Rainbond's RegionInfoResp, and their JSON types.
var seedFields = map[string]string{
	"region_id": "string", "region_name": "string", "region_alias": "string", "url": "string", "wsurl": "string",
	"httpdomain": "string", "tcpdomain": "string", "status": "string", "desc": "string", "scope": "string",
	"ssl_ca_cert": "string|null", "cert_file": "string|null", "key_file": "string|null",
}

// rainbondRegion is how a client written for Rainbond's console reads a region: exactly the
// Rainbond's field names.
type rainbondRegion struct {
	RegionID    string  `json:"region_id"`
	RegionName  string  `json:"region_name"`
	RegionAlias string  `json:"region_alias"`
	URL         string  `json:"url"`
	WSURL       string  `json:"wsurl"`
	HTTPDomain  string  `json:"httpdomain"`
	TCPDomain   string  `json:"tcpdomain"`
	Status      string  `json:"status"`
	Desc        string  `json:"desc"`
	Scope       string  `json:"scope"`
	SSLCACert   *string `json:"ssl_ca_cert"`
	CertFile    *string `json:"cert_file"`
	KeyFile     *string `json:"key_file"`
}

// TestRainbondListShape checks Rainbond's list call as a Rainbond client makes it — the bare token in
// Authorization — field by field: a bare array, all 13 members with Rainbond's JSON types,
// explicit nulls, ordered by region_name.
func TestRainbondListShape(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{})
		for _, body := range []string{
			`{"region_name":"rainbond-sh","region_alias":"Shanghai","url":"https://sh.example.com","status":"0","scope":"public","desc":"new"}`,
			`{"region_name":"rainbond-bj","region_alias":"Beijing","url":"https://bj.example.com","wsurl":"wss://bj.example.com:6060","httpdomain":"apps.bj.example.com","tcpdomain":"10.1.1.1"}`,
		} {
			if resp, b := e.Do("POST", "/openapi/v1/regions", e.Admin, "application/json", []byte(body)); resp.StatusCode != 201 {
				t.Fatalf("create: %d %s", resp.StatusCode, b)
			}
		}
		reader := e.Token(t, apitest.Enterprise, token.RegionsRead)
		resp, body := e.Do("GET", "/openapi/v1/regions", reader, "", nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("list: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		var raw []map[string]any
		if err := json.Unmarshal(body, &raw); err != nil {
			t.Fatalf("not a bare JSON array: %v: %s", err, body)
		}
		if len(raw) != 2 {
			t.Fatalf("%d items", len(raw))
		}
		for _, item := range raw {
			var keys []string
			for k := range item {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if len(item) != len(seedFields) {
				t.Fatalf("item has members %v, want exactly Rainbond's 13", keys)
			}
			for field, typ := range seedFields {
				v, present := item[field]
				if !present {
					t.Fatalf("member %s missing", field)
				}
				switch v.(type) {
				case string:
					if !strings.HasPrefix(typ, "string") {
						t.Errorf("%s is a string, want %s", field, typ)
					}
				case nil:
					if !strings.HasSuffix(typ, "null") {
						t.Errorf("%s is null, want %s", field, typ)
					}
				default:
					t.Errorf("%s has JSON type %T, want %s", field, v, typ)
				}
			}
			// A token without regions:secrets sees no TLS material at all.
			for _, f := range []string{"ssl_ca_cert", "cert_file", "key_file"} {
				if item[f] != nil {
					t.Errorf("%s is not null for a token without regions:secrets", f)
				}
			}
			if !slices.Contains([]string{"0", "1", "2", "3"}, item["status"].(string)) || !slices.Contains([]string{"private", "public"}, item["scope"].(string)) {
				t.Errorf("status %v scope %v", item["status"], item["scope"])
			}
		}
		var typed []rainbondRegion
		if err := json.Unmarshal(body, &typed); err != nil {
			t.Fatal(err)
		}
		bj, sh := typed[0], typed[1]
		if bj.RegionName != "rainbond-bj" || sh.RegionName != "rainbond-sh" {
			t.Fatalf("not ordered by region_name: %s, %s", bj.RegionName, sh.RegionName)
		}
		want := rainbondRegion{RegionID: bj.RegionID, RegionName: "rainbond-bj", RegionAlias: "Beijing", URL: "https://bj.example.com",
			WSURL: "wss://bj.example.com:6060", HTTPDomain: "apps.bj.example.com", TCPDomain: "10.1.1.1", Status: "1", Desc: "", Scope: "private"}
		if bj != want {
			t.Fatalf("bj:\n got %+v\nwant %+v", bj, want)
		}
		if sh.Status != "0" || sh.Scope != "public" || sh.Desc != "new" || sh.WSURL != "" {
			t.Fatalf("sh: %+v", sh)
		}
		// Bearer works as well as the bare token, and gives the same bytes.
		resp2, body2 := e.Do("GET", "/openapi/v1/regions", "Bearer "+reader, "", nil)
		if resp2.StatusCode != 200 || string(body2) != string(body) {
			t.Fatalf("Bearer form: %d", resp2.StatusCode)
		}
	})
}
