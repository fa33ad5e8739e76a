package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/testsupport/testpki"
)

// TestPatchTakesJSONAsMergePatch: PATCH takes its JSON merge patch as
// application/merge-patch+json or as application/json (what generated clients and fetch wrappers
// send by default), in any letter case and with a UTF-8 charset, with the same meaning: a member
// replaces, null clears a TLS field. Any other media type is a 415 that names both.
func TestPatchTakesJSONAsMergePatch(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{})
		id, _ := createRegion(t, e, "patch-media")
		cert, key := testpki.Pair(t, "patch-media")
		for i, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON",
			"APPLICATION/MERGE-PATCH+JSON; charset=UTF-8", "application/merge-patch+json"} {
			desc := strings.Repeat("d", i+1)
			resp, body := e.Do("PATCH", "/openapi/v1/regions/"+id, e.Admin, ct,
				[]byte(`{"desc":"`+desc+`","cert_file":`+jsonString(cert)+`,"key_file":`+jsonString(key)+`}`))
			var r api.RegionInfoResp
			if resp.StatusCode != 200 || json.Unmarshal(body, &r) != nil || r.Desc != desc || !r.CertFile.IsSpecified() || r.CertFile.IsNull() {
				t.Fatalf("PATCH as %s: %d %s", ct, resp.StatusCode, body)
			}
			resp, body = e.Do("PATCH", "/openapi/v1/regions/"+id, e.Admin, ct, []byte(`{"cert_file":null,"key_file":null}`))
			if resp.StatusCode != 200 || json.Unmarshal(body, &r) != nil || !r.CertFile.IsNull() || !r.KeyFile.IsNull() {
				t.Fatalf("clearing TLS fields as %s: %d %s", ct, resp.StatusCode, body)
			}
		}
		before := e.Snapshot()
		resp, body := e.Do("PATCH", "/openapi/v1/regions/"+id, e.Admin, "text/plain", []byte(`{"desc":"x"}`))
		if p := problemOf(t, resp, body, 415); p.Detail != "Content-Type must be application/json or application/merge-patch+json (UTF-8), not text/plain" {
			t.Fatalf("415 does not say what is accepted: %s", p.Detail)
		}
		if e.Snapshot() != before {
			t.Fatal("a refused patch changed something")
		}
	})
}
