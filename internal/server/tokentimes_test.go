package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/token"
)

// TestTokenExpiryOutOfRange: an expires_at the database cannot hold (after 9999-12-31T23:59:59.999999Z
// in UTC) is a 422 naming expires_at that writes nothing, on every backend; the last instant that
// fits is accepted and reads back.
func TestTokenExpiryOutOfRange(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{})
		for _, exp := range []string{"9999-12-31T23:00:00-05:00", "9999-12-31T23:30:00-01:00"} {
			before := e.Snapshot()
			resp, body := e.Do("POST", "/openapi/v1/tokens", e.Admin, "application/json", []byte(`{"scopes":["regions:read"],"expires_at":"`+exp+`"}`))
			if resp.StatusCode != 422 {
				t.Fatalf("expires_at %s: %d %s", exp, resp.StatusCode, body)
			}
			if p := problemOf(t, resp, body, 422); p.Errors == nil || (*p.Errors)[0].Field != "expires_at" {
				t.Fatalf("expires_at %s: %s", exp, body)
			}
			if e.Snapshot() != before {
				t.Fatalf("expires_at %s: the refused request changed the database", exp)
			}
		}
		last := mint(t, e, e.Admin, `{"scopes":["regions:read"],"expires_at":"9999-12-31T23:59:59.999999Z"}`)
		if resp, body := e.Do("GET", "/openapi/v1/tokens/"+last.Id, e.Admin, "", nil); resp.StatusCode != 200 || !strings.Contains(string(body), "9999-12-31T23:59:59.999999Z") {
			t.Fatalf("the last storable expiry: %d %s", resp.StatusCode, body)
		}
		if resp, body := e.Do("GET", "/openapi/v1/tokens", e.Admin, "", nil); resp.StatusCode != 200 {
			t.Fatalf("list: %d %s", resp.StatusCode, body)
		}
	})
}

// TestUnreadableTokenTimes: rows whose times the store cannot read as such (an older version wrote
// year 10000 into SQLite; garbage from another tool) break no read: lists, reads and revocations
// answer, valid against the spec; a time past 9999 reads as the last instant the API can show,
// and an unreadable one as the Unix epoch, so that an unreadable expiry fails closed (expired).
func TestUnreadableTokenTimes(t *testing.T) {
	e := apitest.Start(t, dbtest.SQLite(t), apitest.Options{})
	w, _ := e.Store.DBs()
	insert := func(created, expires string) (id, secret string) {
		id, secret = token.NewID(), token.NewSecret()
		e.Secret(secret)
		if _, err := w.Exec("INSERT INTO regiond_token (id, enterprise_id, prefix, hash, scopes, note, created_at, expires_at, created_by) VALUES (?, ?, ?, ?, 'regions:read', '', ?, ?, 'cli')",
			id, apitest.Enterprise, token.PrefixOf(secret), token.Hash(secret), created, expires); err != nil {
			t.Fatal(err)
		}
		return id, secret
	}
	now := time.Now().UTC().Format("2006-01-02 15:04:05.999999999-07:00")
	farID, far := insert(now, "10000-01-01 04:00:00+00:00")
	badID, bad := insert(now, "next tuesday")
	oddID, _ := insert("garbage", "")

	resp, body := e.Do("GET", "/openapi/v1/tokens", e.Admin, "", nil)
	var list []api.Token
	json.Unmarshal(body, &list)
	if resp.StatusCode != 200 || len(list) != 4 {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	byID := map[string]api.Token{}
	for _, tk := range list {
		byID[tk.Id] = tk
	}
	if exp, _ := byID[farID].ExpiresAt.Get(); !exp.Equal(time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)) {
		t.Errorf("year 10000 reads as %v", exp)
	}
	if exp, _ := byID[badID].ExpiresAt.Get(); !exp.Equal(time.Unix(0, 0)) {
		t.Errorf("an unreadable expiry reads as %v", exp)
	}
	if !byID[oddID].CreatedAt.Equal(time.Unix(0, 0)) {
		t.Errorf("an unreadable created_at reads as %v", byID[oddID].CreatedAt)
	}
	for _, id := range []string{farID, badID, oddID} {
		if resp, body := e.Do("GET", "/openapi/v1/tokens/"+id, e.Admin, "", nil); resp.StatusCode != 200 {
			t.Errorf("GET %s: %d %s", id, resp.StatusCode, body)
		}
	}
	if resp, body := e.Do("GET", "/openapi/v1/regions", far, "", nil); resp.StatusCode != 200 {
		t.Errorf("the token expiring in year 10000: %d %s", resp.StatusCode, body)
	}
	if resp, body := e.Do("GET", "/openapi/v1/regions", bad, "", nil); resp.StatusCode != 401 {
		t.Errorf("the token with an unreadable expiry: %d %s", resp.StatusCode, body)
	}
	if resp, body := e.Do("DELETE", "/openapi/v1/tokens/"+badID, e.Admin, "", nil); resp.StatusCode != 204 {
		t.Errorf("revoke the token with an unreadable expiry: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(e.Logs.String(), badID) {
		t.Error("the unreadable time was not reported in the log")
	}
}
