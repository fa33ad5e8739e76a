package server_test

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/regiond/regiond/internal/server"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/token"
)

var notFoundLookups = regexp.MustCompile(`(?m)^regiond_token_lookups_total\{result="not_found"\} (\d+)$`)

// tokenLookups is how many token lookups found nothing in the database, from /metrics.
func tokenLookups(t *testing.T, e *apitest.Env) int {
	t.Helper()
	_, body := e.Do("GET", "/metrics", "", "", nil)
	m := notFoundLookups.FindSubmatch(body)
	if m == nil {
		t.Fatal(`no regiond_token_lookups_total{result="not_found"} in /metrics`)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// TestUnknownTokensAreCheap: a token the database does not hold is looked up once per staleness
// bound, not once per request; and once it is created (as on another replica) it works within
// that bound.
func TestUnknownTokensAreCheap(t *testing.T) {
	e := apitest.Start(t, dbtest.SQLite(t), apitest.Options{})
	staleness := 200 * time.Millisecond // apitest's
	secret := token.NewSecret()
	e.Secret(secret)
	start := time.Now()
	const requests = 500
	for i := 0; i < requests; i++ {
		if resp, body := e.Do("GET", "/openapi/v1/regions", secret, "", nil); resp.StatusCode != 401 {
			t.Fatalf("an unknown token: %d %s", resp.StatusCode, body)
		}
	}
	elapsed := time.Since(start)
	lookups := tokenLookups(t, e)
	bound := 1 + int(elapsed/staleness) + 1
	t.Logf("%d requests with one unknown token in %v: %d database lookups (bound %d)", requests, elapsed.Round(time.Millisecond), lookups, bound)
	if lookups > bound {
		t.Fatalf("%d requests with one unknown token made %d database lookups; want at most one per %v (%d)", requests, lookups, staleness, bound)
	}

	tk := token.Token{ID: token.NewID(), EnterpriseID: apitest.Enterprise, Scopes: []token.Scope{token.RegionsRead},
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond), CreatedBy: "another replica"}
	e.StoreToken(t, tk, secret)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, _ := e.Do("GET", "/openapi/v1/regions", secret, "", nil)
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a token created after it was refused is still refused: %d", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNewValidTokensAreNotFailures: the failed-authentication budget of an address is spent only
// by tokens that fail. Many new, valid tokens used for the first time at once from one address
// (a CI job fanning out) all work, however small the budget; bad tokens still run it out.
func TestNewValidTokensAreNotFailures(t *testing.T) {
	e := apitest.Start(t, dbtest.SQLite(t), apitest.Options{Server: func(c *server.Config) {
		c.AuthFailRate, c.AuthFailBurst = 0.001, 3 // refilled once in ~17 minutes: no test outlives it
	}})
	for i := 0; i < 30; i++ {
		tok := e.Token(t, apitest.Enterprise, token.RegionsRead)
		if resp, body := e.Do("GET", "/openapi/v1/regions", tok, "", nil); resp.StatusCode != 200 {
			t.Fatalf("the first use of new valid token %d: %d %s", i+1, resp.StatusCode, body)
		}
	}
	for i := 1; i <= 4; i++ {
		bad := token.NewSecret()
		e.Secret(bad)
		want := 401
		if i == 4 {
			want = 429 // the burst of 3 failures is spent
		}
		if resp, body := e.Do("GET", "/openapi/v1/regions", bad, "", nil); resp.StatusCode != want {
			t.Fatalf("bad token %d: %d, want %d: %s", i, resp.StatusCode, want, body)
		}
	}
}
