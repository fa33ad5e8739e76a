package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/token"
)

// TestRevokeTokenRevokesWhatItMinted: revoking a token revokes, in one transaction, every token it
// minted, transitively, each audited once; tokens it did not mint are untouched; and revoking an
// already revoked token still revokes what it minted that is valid (made before revocation
// cascaded).
func TestRevokeTokenRevokesWhatItMinted(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := open(t, dsn, nil)
		mk := func(ent, createdBy string) string {
			secret := token.NewSecret()
			tk := token.Token{ID: token.NewID(), EnterpriseID: ent, Prefix: token.PrefixOf(secret), Hash: token.Hash(secret),
				Scopes: []token.Scope{token.TokensAdmin}, CreatedAt: time.Now().UTC(), CreatedBy: createdBy}
			if err := s.CreateToken(ctx, tk, store.AuditEvent{EnterpriseID: ent, TokenID: createdBy, Operation: store.OpTokenCreate}); err != nil {
				t.Fatal(err)
			}
			return tk.ID
		}
		parent := mk("chain", "cli")
		child1, child2 := mk("chain", parent), mk("chain", parent)
		grandchild := mk("chain", child1)
		unrelated := mk("chain", "cli")
		elsewhere := mk("chain-other", parent) // not a token of this enterprise's chain
		if _, err := s.RevokeToken(ctx, "chain", parent, store.AuditEvent{TokenID: "tok_actor", Operation: store.OpTokenRevoke}); err != nil {
			t.Fatal(err)
		}
		for id, want := range map[string]bool{parent: true, child1: true, child2: true, grandchild: true, unrelated: false, elsewhere: false} {
			tk, err := s.GetToken(ctx, "", id)
			if err != nil || (tk.RevokedAt != nil) != want {
				t.Errorf("token %s revoked: %v, want %v (%v)", id, tk.RevokedAt, want, err)
			}
		}
		revokes := func() map[string]int {
			events, _ := s.ListAudit(ctx, "chain", nil, 100)
			n := map[string]int{}
			for _, e := range events {
				if e.Operation == store.OpTokenRevoke && e.TokenID == "tok_actor" {
					n[e.TargetID]++
				}
			}
			return n
		}
		if n := revokes(); len(n) != 4 || n[parent] != 1 || n[child1] != 1 || n[child2] != 1 || n[grandchild] != 1 {
			t.Fatalf("revocation events: %v", n)
		}
		// A token minted by a token revoked before revocation cascaded is revoked by revoking again.
		late := mk("chain", grandchild)
		if _, err := s.RevokeToken(ctx, "chain", parent, store.AuditEvent{TokenID: "tok_actor", Operation: store.OpTokenRevoke}); err != nil {
			t.Fatal(err)
		}
		if tk, _ := s.GetToken(ctx, "chain", late); tk.RevokedAt == nil {
			t.Fatal("a valid token minted by a revoked one survived its ancestor's revocation")
		}
		if n := revokes(); len(n) != 5 || n[parent] != 1 || n[late] != 1 {
			t.Fatalf("revocation events after revoking again: %v", n)
		}
	})
}
