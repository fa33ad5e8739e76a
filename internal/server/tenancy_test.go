package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/server"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/token"
)

// insertLegacyToken writes a token row with SQL, as a version that did not check enterprise ids
// could have, and returns its secret.
func insertLegacyToken(t *testing.T, e *apitest.Env, id, enterprise string, scopes ...token.Scope) string {
	t.Helper()
	secret := token.NewSecret()
	e.Secret(secret)
	w, _ := e.Store.DBs()
	_, err := w.Exec("INSERT INTO regiond_token (id, enterprise_id, prefix, hash, scopes, note, created_at, created_by) VALUES (?, ?, ?, ?, ?, '', ?, 'cli')",
		id, enterprise, token.PrefixOf(secret), token.Hash(secret), token.JoinScopes(scopes), time.Now().UTC().Truncate(time.Microsecond))
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// TestLookalikeEnterprises: enterprises whose ids differ only in letter case, a trailing space or
// an accent are separate over HTTP on every backend: none reads, changes or deletes another's
// region, reads or revokes its tokens, or reads its audit trail. Tokens of enterprise ids outside
// the documented format (made before it existed) are refused; ids in another letter case are 404.
func TestLookalikeEnterprises(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{Server: func(c *server.Config) { c.RateLimit = 0 }})
		ctx := context.Background()
		type tenant struct{ admin, regionID, tokenID string }
		ents := []string{"entB", "ENTB", "entb ", "éntB"}
		tenants := map[string]*tenant{}
		for i, ent := range ents {
			r := region.Region{EnterpriseID: ent, RegionID: uuid.NewString(), RegionName: fmt.Sprint("r-", i), RegionAlias: "A",
				URL: "https://r.example.com", Status: region.StatusEnabled, Scope: region.ScopePrivate}
			if _, err := e.Store.CreateRegion(ctx, r, store.AuditEvent{EnterpriseID: ent, TokenID: "test", Operation: store.OpRegionCreate}); err != nil {
				t.Fatalf("%q: %v", ent, err)
			}
			tn := &tenant{regionID: r.RegionID, tokenID: token.NewID()}
			tn.admin = insertLegacyToken(t, e, token.NewID(), ent, token.AllScopes...)
			insertLegacyToken(t, e, tn.tokenID, ent, token.RegionsRead)
			tenants[ent] = tn
		}
		valid := ents[:2]
		for _, ent := range ents[2:] {
			if resp, body := e.Do("GET", "/openapi/v1/regions", tenants[ent].admin, "", nil); resp.StatusCode != 401 || !strings.Contains(string(body), "enterprise id") {
				t.Errorf("%q's token: %d %s", ent, resp.StatusCode, body)
			}
		}
		for _, ent := range valid {
			me := tenants[ent]
			for _, other := range ents {
				if other == ent {
					continue
				}
				them := tenants[other]
				for _, req := range []struct{ method, path, contentType, body string }{
					{"GET", "/openapi/v1/regions/" + them.regionID, "", ""},
					{"PUT", "/openapi/v1/regions/" + them.regionID, "application/json", `{"region_name":"r-0","region_alias":"B","url":"https://x.example.com"}`},
					{"PATCH", "/openapi/v1/regions/" + them.regionID, "application/merge-patch+json", `{"desc":"taken over"}`},
					{"DELETE", "/openapi/v1/regions/" + them.regionID, "", ""},
					{"GET", "/openapi/v1/tokens/" + them.tokenID, "", ""},
					{"DELETE", "/openapi/v1/tokens/" + them.tokenID, "", ""},
				} {
					var body []byte
					if req.body != "" {
						body = []byte(req.body)
					}
					if resp, got := e.Do(req.method, req.path, me.admin, req.contentType, body); resp.StatusCode != 404 {
						t.Errorf("%q: %s %s of %q: %d %s", ent, req.method, req.path, other, resp.StatusCode, got)
					}
				}
			}
			resp, body := e.Do("GET", "/openapi/v1/regions", me.admin, "", nil)
			var regions []api.RegionInfoResp
			json.Unmarshal(body, &regions)
			if resp.StatusCode != 200 || len(regions) != 1 || regions[0].RegionId != me.regionID {
				t.Errorf("%q lists regions: %d %s", ent, resp.StatusCode, body)
			}
			resp, body = e.Do("GET", "/openapi/v1/tokens", me.admin, "", nil)
			var toks []api.Token
			json.Unmarshal(body, &toks)
			if resp.StatusCode != 200 || len(toks) != 2 {
				t.Errorf("%q lists tokens: %d %s", ent, resp.StatusCode, body)
			}
			for _, tk := range toks {
				if tk.EnterpriseId != ent {
					t.Errorf("%q lists a token of %q", ent, tk.EnterpriseId)
				}
			}
			resp, body = e.Do("GET", "/openapi/v1/audit", me.admin, "", nil)
			var events []api.AuditEvent
			json.Unmarshal(body, &events)
			if resp.StatusCode != 200 || len(events) == 0 {
				t.Errorf("%q reads its audit trail: %d %s", ent, resp.StatusCode, body)
			}
			for _, ev := range events {
				if ev.EnterpriseId != ent {
					t.Errorf("%q reads an audit event of %q", ent, ev.EnterpriseId)
				}
			}
			// Its own region and token, named in another letter case, do not exist.
			for _, path := range []string{"/openapi/v1/regions/" + strings.ToUpper(me.regionID), "/openapi/v1/tokens/" + strings.ToUpper(me.tokenID)} {
				if resp, body := e.Do("GET", path, me.admin, "", nil); resp.StatusCode != 404 {
					t.Errorf("%q: GET %s: %d %s", ent, path, resp.StatusCode, body)
				}
			}
			if resp, body := e.Do("DELETE", "/openapi/v1/tokens/"+strings.ToUpper(me.tokenID), me.admin, "", nil); resp.StatusCode != 404 {
				t.Errorf("%q: DELETE of its token upper-cased: %d %s", ent, resp.StatusCode, body)
			}
		}
		// Nothing of any enterprise changed.
		for _, ent := range ents {
			r, err := e.Store.GetRegion(ctx, ent, tenants[ent].regionID, store.Public)
			if err != nil || r.Version != 1 {
				t.Errorf("%q's region afterwards: %+v %v", ent, r, err)
			}
			tk, err := e.Store.GetToken(ctx, ent, tenants[ent].tokenID)
			if err != nil || tk.RevokedAt != nil {
				t.Errorf("%q's token afterwards: %+v %v", ent, tk, err)
			}
		}
	})
}
