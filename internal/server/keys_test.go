package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/secrets"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/testsupport/testpki"
	"github.com/regiond/regiond/internal/token"
)

// TestWrongKeyServesWhatItCan: a server whose keyring lacks the key a stored key_file was written
// with (regiond serve refuses to start so; the test goes around that check) still serves every
// write that leaves key_file alone. A caller without regions:secrets is never answered 500 and
// never told that a key is stored; the stored ciphertext is carried over as it is, so the
// original key still decrypts it. A regions:secrets reader gets a 500 problem for the operator.
func TestWrongKeyServesWhatItCan(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		original, _ := secrets.Parse(secrets.GenerateKey())
		other, _ := secrets.Parse(secrets.GenerateKey())
		writer := apitest.Start(t, dsn, apitest.Options{Keyring: original})
		cert, key := testpki.Pair(t, "wrong-key")
		writer.Secret(key)
		b, _ := json.Marshal(map[string]any{"region_name": "wrong-key", "region_alias": "A", "url": "https://x.example.com", "cert_file": cert, "key_file": key})
		resp, body := writer.Do("POST", "/openapi/v1/regions", writer.Admin, "application/json", b)
		if resp.StatusCode != 201 {
			t.Fatalf("create: %d %s", resp.StatusCode, body)
		}
		var r api.RegionInfoResp
		json.Unmarshal(body, &r)
		id := r.RegionId

		wrong := apitest.Start(t, dsn, apitest.Options{Keyring: other})
		wrong.Secret(key)
		rw := wrong.Token(t, apitest.Enterprise, token.RegionsRead, token.RegionsWrite)
		resp, body = wrong.Do("PATCH", "/openapi/v1/regions/"+id, rw, "application/merge-patch+json", []byte(`{"desc":"patched without the key"}`))
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"key_file":null`) {
			t.Fatalf("PATCH without regions:secrets on a server without the key: %d %s", resp.StatusCode, body)
		}
		_, read := wrong.Do("GET", "/openapi/v1/regions/"+id, rw, "", nil)
		var asRead map[string]any
		json.Unmarshal(read, &asRead)
		delete(asRead, "region_id")
		asRead["region_alias"] = "replaced"
		back, _ := json.Marshal(asRead)
		if resp, body := wrong.Do("PUT", "/openapi/v1/regions/"+id, rw, "application/json", back); resp.StatusCode != 200 || !strings.Contains(string(body), `"key_file":null`) {
			t.Fatalf("PUT without regions:secrets on a server without the key: %d %s", resp.StatusCode, body)
		}

		// The original key still decrypts what is stored, and the writes went through.
		got, err := writer.Store.GetRegion(context.Background(), apitest.Enterprise, id, store.WithSecrets)
		if err != nil || got.KeyFile == nil || *got.KeyFile != key || got.CertFile == nil || *got.CertFile != cert ||
			got.Desc != "patched without the key" || got.RegionAlias != "replaced" {
			t.Fatalf("after the writes: %+v %v", got, err)
		}

		// Who may read key_file learns the operator must act, without a stack trace or the key.
		resp, body = wrong.Do("GET", "/openapi/v1/regions/"+id, wrong.Admin, "", nil)
		if p := problemOf(t, resp, body, 500); strings.Contains(string(body), "BEGIN") || !strings.Contains(p.Detail, "encryption key") {
			t.Fatalf("GET by regions:secrets: %s", body)
		}
	})
}
