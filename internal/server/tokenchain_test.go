package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/server"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
)

// mint creates a token with tok over HTTP and returns the 201 body.
func mint(t *testing.T, e *apitest.Env, tok, body string) api.TokenCreated {
	t.Helper()
	resp, got := e.Do("POST", "/openapi/v1/tokens", tok, "application/json", []byte(body))
	if resp.StatusCode != 201 {
		t.Fatalf("create %s: %d %s", body, resp.StatusCode, got)
	}
	var created api.TokenCreated
	if err := json.Unmarshal(got, &created); err != nil {
		t.Fatal(err)
	}
	e.Secret(created.Token)
	return created
}

func expiry(t *testing.T, tk api.TokenCreated) time.Time {
	t.Helper()
	exp, err := tk.ExpiresAt.Get()
	if err != nil {
		t.Fatalf("token %s has no expires_at", tk.Id)
	}
	return exp
}

// TestTokenChain: a token minted by an expiring token expires no later than its parent (by
// default exactly with it), and revoking a token revokes every token it minted, transitively, at
// once, each with its own audit event.
func TestTokenChain(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{Server: func(c *server.Config) { c.RateLimit = 0 }})
		parentExp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		all := `"scopes":["regions:read","regions:write","regions:secrets","tokens:admin"]`
		parent := mint(t, e, e.Admin, `{`+all+`,"expires_at":"`+parentExp.Format(time.RFC3339)+`"}`)

		// No expires_at: the parent's expiry, shown in the 201 body.
		child := mint(t, e, parent.Token, `{`+all+`}`)
		if got := expiry(t, child); !got.Equal(parentExp) {
			t.Fatalf("child expires at %v, want its parent's %v", got, parentExp)
		}
		// An earlier expiry is kept; a later one is refused, naming the field, and writes nothing.
		sooner := parentExp.Add(-30 * time.Minute)
		if got := expiry(t, mint(t, e, parent.Token, `{"scopes":["regions:read"],"expires_at":"`+sooner.Format(time.RFC3339)+`"}`)); !got.Equal(sooner) {
			t.Fatalf("earlier expiry became %v", got)
		}
		before := e.Snapshot()
		for _, later := range []string{parentExp.Add(time.Second).Format(time.RFC3339), "2999-01-01T00:00:00Z"} {
			resp, body := e.Do("POST", "/openapi/v1/tokens", parent.Token, "application/json", []byte(`{"scopes":["regions:read"],"expires_at":"`+later+`"}`))
			if p := problemOf(t, resp, body, 422); p.Errors == nil || len(*p.Errors) != 1 || (*p.Errors)[0].Field != "expires_at" {
				t.Fatalf("expires_at %s after the parent's: %s", later, body)
			}
		}
		if e.Snapshot() != before {
			t.Fatal("a refused token creation changed the database")
		}
		grandchild := mint(t, e, child.Token, `{"scopes":["regions:read"],"note":"grandchild"}`)
		if got := expiry(t, grandchild); !got.Equal(parentExp) {
			t.Fatalf("grandchild expires at %v, want %v", got, parentExp)
		}
		// A token made by a token that never expires may never expire either.
		if resp, body := e.Do("GET", "/openapi/v1/tokens/"+parent.Id, e.Admin, "", nil); resp.StatusCode != 200 {
			t.Fatalf("admin reads the parent: %d %s", resp.StatusCode, body)
		}
		free := mint(t, e, e.Admin, `{"scopes":["regions:read"]}`)
		if free.ExpiresAt.IsSpecified() && !free.ExpiresAt.IsNull() {
			t.Fatalf("a token of a non-expiring token got expires_at %v", free.ExpiresAt)
		}

		// Every token of the chain works, and is cached by this replica.
		chain := map[string]string{parent.Id: parent.Token, child.Id: child.Token, grandchild.Id: grandchild.Token}
		for id, tok := range chain {
			if resp, body := e.Do("GET", "/openapi/v1/regions", tok, "", nil); resp.StatusCode != 200 {
				t.Fatalf("%s before the revocation: %d %s", id, resp.StatusCode, body)
			}
		}
		if resp, body := e.Do("DELETE", "/openapi/v1/tokens/"+parent.Id, e.Admin, "", nil); resp.StatusCode != 204 {
			t.Fatalf("revoke the parent: %d %s", resp.StatusCode, body)
		}
		// Refused at once on this replica, the grandchild included.
		for id, tok := range chain {
			resp, body := e.Do("GET", "/openapi/v1/regions", tok, "", nil)
			if p := problemOf(t, resp, body, 401); !strings.Contains(p.Detail, "revoked") {
				t.Errorf("%s after its ancestor's revocation: %s", id, body)
			}
		}
		// The admin's other token is untouched.
		if resp, _ := e.Do("GET", "/openapi/v1/regions", free.Token, "", nil); resp.StatusCode != 200 {
			t.Errorf("an unrelated token after the revocation: %d", resp.StatusCode)
		}
		// One audit event per revoked token, by the token that revoked the parent.
		resp, body := e.Do("GET", "/openapi/v1/audit?limit=100", e.Admin, "", nil)
		var events []api.AuditEvent
		json.Unmarshal(body, &events)
		revoked := map[string]string{}
		for _, ev := range events {
			if ev.Operation == api.AuditEventOperationTokenRevoke {
				revoked[ev.TargetId] = ev.TokenId
			}
		}
		if resp.StatusCode != 200 || len(revoked) != 4 {
			t.Fatalf("revocation events for %v, want the parent and its 3 descendants", revoked)
		}
		for id := range chain {
			if revoked[id] == "" || revoked[id] == parent.Id {
				t.Errorf("revocation of %s: by %q", id, revoked[id])
			}
		}
	})
}
