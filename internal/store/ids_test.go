package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/token"
)

// lookalikeEnterprises differ only in letter case, a trailing space or an accent: a
// case-insensitive, accent-insensitive or space-padding comparison makes some of them one.
var lookalikeEnterprises = []string{"entB", "ENTB", "entb ", "éntB", "entB "}

// insertTokenRow writes a token row with SQL, as an older version (or another tool) could have:
// the store itself refuses enterprise ids outside the documented format.
func insertTokenRow(t *testing.T, s *store.Store, id, enterprise, createdBy string) {
	t.Helper()
	w, _ := s.DBs()
	_, err := w.Exec("INSERT INTO regiond_token (id, enterprise_id, prefix, hash, scopes, note, created_at, created_by) VALUES (?, ?, ?, ?, ?, '', ?, ?)",
		id, enterprise, "rgd_x", token.Hash(id), "regions:read", time.Now().UTC().Truncate(time.Microsecond), createdBy)
	if err != nil {
		t.Fatal(err)
	}
}

// insertRegionRow writes a region row with SQL, as the schema of 0004 holds it (today's store
// writes columns later migrations add).
func insertRegionRow(t *testing.T, s *store.Store, r region.Region) region.Region {
	t.Helper()
	w, _ := s.DBs()
	now := time.Now().UTC().Truncate(time.Microsecond)
	_, err := w.Exec("INSERT INTO region_info (region_id, region_name, region_alias, url, status, scope, create_time, update_time, enterprise_id, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
		r.RegionID, r.RegionName, r.RegionAlias, r.URL, string(r.Status), string(r.Scope), now, now, r.EnterpriseID)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestIDsCompareByteForByte: enterprises, regions and tokens whose ids differ in any byte are
// different, on every backend, including in a database that held rows before ids were compared
// byte for byte (migrated from 0004 with the rows in place).
func TestIDsCompareByteForByte(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s, err := store.Open(ctx, dsn, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := store.MigrateTo(ctx, s, "0004_generation_meta"); err != nil {
			t.Fatal(err)
		}
		regions := map[string]region.Region{}
		tokens := map[string]string{}
		for i, ent := range lookalikeEnterprises {
			regions[ent] = insertRegionRow(t, s, newRegion(ent, fmt.Sprintf("old-%d", i)))
			tokens[ent] = token.NewID()
			insertTokenRow(t, s, tokens[ent], ent, "cli")
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if v, _ := s.SchemaVersion(ctx); v != store.LatestSchemaVersion() {
			t.Fatalf("schema version %s after migrating", v)
		}
		// Names are unique per enterprise only: every lookalike may use the same one.
		for _, ent := range lookalikeEnterprises {
			if _, err := s.CreateRegion(ctx, newRegion(ent, "same-name"), ev(store.OpRegionCreate)); err != nil {
				t.Errorf("%q: a name another enterprise uses: %v", ent, err)
			}
		}
		takenOver := "taken over"
		keep := region.Change{Desc: &takenOver}
		for _, ent := range lookalikeEnterprises {
			list, err := s.ListRegions(ctx, store.RegionQuery{EnterpriseID: ent})
			if err != nil || len(list) != 2 || list[0].RegionID != regions[ent].RegionID {
				t.Errorf("%q lists %d regions (%s), want its own 2: %v", ent, len(list), names(list), err)
			}
			toks, _ := s.ListTokens(ctx, ent, nil, 0)
			if len(toks) != 1 || toks[0].ID != tokens[ent] {
				t.Errorf("%q lists %d tokens, want its own 1", ent, len(toks))
			}
			events, _ := s.ListAudit(ctx, ent, nil, 100)
			for _, e := range events {
				if e.EnterpriseID != ent {
					t.Errorf("%q reads an audit event of %q", ent, e.EnterpriseID)
				}
			}
			for _, other := range lookalikeEnterprises {
				if other == ent {
					continue
				}
				id := regions[other].RegionID
				if _, err := s.GetRegion(ctx, ent, id, store.WithSecrets); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("%q reads %q's region: %v", ent, other, err)
				}
				if _, err := s.UpdateRegion(ctx, ent, id, store.Public, store.Precondition{}, keep, ev(store.OpRegionUpdate)); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("%q changes %q's region: %v", ent, other, err)
				}
				if _, err := s.DeleteRegion(ctx, ent, id, store.Precondition{}, ev(store.OpRegionDelete)); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("%q deletes %q's region: %v", ent, other, err)
				}
				if _, err := s.GetToken(ctx, ent, tokens[other]); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("%q reads %q's token: %v", ent, other, err)
				}
				if _, err := s.RevokeToken(ctx, ent, tokens[other], ev(store.OpTokenRevoke)); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("%q revokes %q's token: %v", ent, other, err)
				}
			}
			// An id in another letter case, or padded, names nothing.
			own := regions[ent].RegionID
			for _, id := range []string{strings.ToUpper(own), own + " "} {
				if _, err := s.GetRegion(ctx, ent, id, store.Public); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("region id %q finds %s: %v", id, own, err)
				}
			}
			for _, id := range []string{strings.ToUpper(tokens[ent]), tokens[ent] + " "} {
				if _, err := s.GetToken(ctx, ent, id); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("token id %q finds %s: %v", id, tokens[ent], err)
				}
			}
		}
		// Nothing of any enterprise changed.
		for _, ent := range lookalikeEnterprises {
			got, err := s.GetRegion(ctx, ent, regions[ent].RegionID, store.Public)
			if err != nil || got.Version != 1 || got.Desc == "taken over" {
				t.Errorf("%q's region after the others' attempts: %+v %v", ent, got, err)
			}
			tk, err := s.GetToken(ctx, ent, tokens[ent])
			if err != nil || tk.RevokedAt != nil {
				t.Errorf("%q's token after the others' attempts: %+v %v", ent, tk, err)
			}
		}
	})
}

// TestEnterpriseIDFormat: the store refuses to make a token outside the documented enterprise id
// format, whoever asks.
func TestEnterpriseIDFormat(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		s := open(t, dsn, nil)
		mk := func(ent string) error {
			secret := token.NewSecret()
			return s.CreateToken(context.Background(), token.Token{ID: token.NewID(), EnterpriseID: ent, Prefix: token.PrefixOf(secret),
				Hash: token.Hash(secret), Scopes: []token.Scope{token.RegionsRead}, CreatedAt: time.Now().UTC()}, ev(store.OpTokenCreate))
		}
		for _, bad := range []string{"", "entb ", " entB", "éntB", "-acme", ".acme", "a/b", "a b", strings.Repeat("a", 37), "a\x00"} {
			if err := mk(bad); err == nil {
				t.Errorf("enterprise %q accepted", bad)
			}
		}
		for _, good := range []string{"entB", "ENTB", "a", "0", "acme.prod_eu-1", strings.Repeat("a", 36), "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"} {
			if err := mk(good); err != nil {
				t.Errorf("enterprise %q refused: %v", good, err)
			}
		}
	})
}
