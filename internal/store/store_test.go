package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/secrets"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/testsupport/testpki"
	"github.com/regiond/regiond/internal/token"
)

// The whole suite runs once per backend, each time on a fresh database.

func open(t *testing.T, dsn string, keyring *secrets.Keyring) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, dsn, store.Options{Keyring: keyring, MaxOpenConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func keyring(t *testing.T, keys ...string) *secrets.Keyring {
	t.Helper()
	k, err := secrets.Parse(strings.Join(keys, ","))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newRegion(ent, name string) region.Region {
	return region.Region{
		EnterpriseID: ent, RegionID: uuid.NewString(), RegionName: name, RegionAlias: "Alias " + name,
		URL: "https://" + name + ".example.com:8443", Status: region.StatusEnabled, Scope: region.ScopePrivate,
	}
}

func ev(op string) store.AuditEvent {
	return store.AuditEvent{EnterpriseID: "e1", TokenID: "tok_test", Operation: op, RequestID: "req-1"}
}

func mustCreate(t *testing.T, s *store.Store, r region.Region) region.Region {
	t.Helper()
	e := ev(store.OpRegionCreate)
	e.EnterpriseID = r.EnterpriseID
	w, err := s.CreateRegion(context.Background(), r, e)
	if err != nil {
		t.Fatalf("create %s: %v", r.RegionName, err)
	}
	return w.Region
}

func names(rs []region.Region) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.RegionName)
	}
	return strings.Join(out, ",")
}

func TestStore(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		t.Run("MigrateIsRepeatable", func(t *testing.T) { testMigrate(t, dsn) })
		s := open(t, dsn, keyring(t, secrets.GenerateKey()))
		// Key rotation rewrites every enterprise's secrets: it gets a database of its own.
		t.Run("RotateSecrets", func(t *testing.T) { testRotate(t, dbtest.Fresh(t, dsn)) })
		for name, fn := range map[string]func(*testing.T, *store.Store){
			"CreateGetList":        testCreateGetList,
			"Conflicts":            testConflicts,
			"UpdateAndVersions":    testUpdate,
			"ConcurrentUpdates":    testConcurrentUpdates,
			"Delete":               testDelete,
			"Filters":              testFilters,
			"KeyFileEncrypted":     testKeyFileEncrypted,
			"Tokens":               testTokens,
			"Audit":                testAudit,
			"Meta":                 testMeta,
			"ViewIsConsistent":     testView,
			"StrangeButValidInput": testStrangeInput,
		} {
			t.Run(name, func(t *testing.T) { fn(t, s) })
		}
	})
}

func testMigrate(t *testing.T, dsn string) {
	ctx := context.Background()
	s, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.SchemaVersion(ctx); v != "" {
		t.Fatalf("fresh database has schema version %q", v)
	}
	for i := 0; i < 2; i++ {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("migrate run %d: %v", i+1, err)
		}
		v, err := s.SchemaVersion(ctx)
		if err != nil || v != store.LatestSchemaVersion() {
			t.Fatalf("after run %d: version %q, %v; want %q", i+1, v, err, store.LatestSchemaVersion())
		}
	}
	// Concurrent migrations (several replicas starting at once) must not fail either.
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- s.Migrate(ctx) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
}

func testCreateGetList(t *testing.T, s *store.Store) {
	ctx := context.Background()
	for _, n := range []string{"cgl-b", "cgl-a", "cgl-c"} {
		mustCreate(t, s, newRegion("cgl", n))
	}
	got, err := s.ListRegions(ctx, store.RegionQuery{EnterpriseID: "cgl"})
	if err != nil {
		t.Fatal(err)
	}
	if names(got) != "cgl-a,cgl-b,cgl-c" {
		t.Fatalf("list order: %s", names(got))
	}
	r := got[1]
	if r.Version != 1 || r.Status != region.StatusEnabled || r.Scope != region.ScopePrivate {
		t.Fatalf("stored region: %+v", r)
	}
	one, err := s.GetRegion(ctx, "cgl", r.RegionID, store.WithSecrets)
	if err != nil || one.RegionName != "cgl-b" || one.URL != r.URL || one.CreateTime.IsZero() || one.UpdateTime.IsZero() {
		t.Fatalf("get: %+v, %v", one, err)
	}
	if _, err := s.GetRegion(ctx, "other-enterprise", r.RegionID, store.Public); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get from another enterprise: %v, want ErrNotFound", err)
	}
	if _, err := s.GetRegion(ctx, "cgl", uuid.NewString(), store.Public); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get unknown: %v, want ErrNotFound", err)
	}
	if n, err := s.CountRegions(ctx, store.RegionQuery{EnterpriseID: "cgl"}); err != nil || n != 3 {
		t.Fatalf("count: %d, %v", n, err)
	}
}

func testConflicts(t *testing.T, s *store.Store) {
	ctx := context.Background()
	first := mustCreate(t, s, newRegion("cf", "dup"))
	_, err := s.CreateRegion(ctx, newRegion("cf", "dup"), ev(store.OpRegionCreate))
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate name: %v, want ErrConflict", err)
	}
	// Names are unique per enterprise, not globally.
	mustCreate(t, s, newRegion("cf-other", "dup"))
	// A duplicate region id is a conflict too.
	again := newRegion("cf", "dup2")
	again.RegionID = first.RegionID
	if _, err := s.CreateRegion(ctx, again, ev(store.OpRegionCreate)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate id: %v, want ErrConflict", err)
	}
	// The failed creates left nothing behind, audit included.
	got, _ := s.ListRegions(ctx, store.RegionQuery{EnterpriseID: "cf"})
	if names(got) != "dup" {
		t.Fatalf("after conflicts: %s", names(got))
	}
}

func testUpdate(t *testing.T, s *store.Store) {
	ctx := context.Background()
	r := mustCreate(t, s, newRegion("up", "up-a"))
	gen0, _ := s.Generation(ctx, "up")
	maintenance, desc := region.StatusMaintenance, "maintenance"
	w, err := s.UpdateRegion(ctx, "up", r.RegionID, store.Public, store.AtVersion(1), region.Change{Status: &maintenance, Desc: &desc}, ev(store.OpRegionUpdate))
	if err != nil {
		t.Fatal(err)
	}
	if w.Region.Version != 2 || w.Generation != gen0+1 {
		t.Fatalf("after update: version %d gen %d (was %d)", w.Region.Version, w.Generation, gen0)
	}
	got, _ := s.GetRegion(ctx, "up", r.RegionID, store.Public)
	if got.Status != region.StatusMaintenance || got.Desc != "maintenance" || got.Version != 2 || !got.CreateTime.Equal(r.CreateTime.Truncate(time.Microsecond)) && got.CreateTime.Sub(r.CreateTime).Abs() > time.Second {
		t.Fatalf("stored after update: %+v", got)
	}
	// A write based on the old version is refused and changes nothing.
	lost := "lost update"
	_, err = s.UpdateRegion(ctx, "up", r.RegionID, store.Public, store.AtVersion(1), region.Change{Desc: &lost}, ev(store.OpRegionUpdate))
	if !errors.Is(err, store.ErrVersionMismatch) {
		t.Fatalf("stale version: %v, want ErrVersionMismatch", err)
	}
	// A change the rules refuse aborts the write, naming the fields: version and generation stay.
	renamed, badURL := "up-b", "ftp://up.example.com"
	_, err = s.UpdateRegion(ctx, "up", r.RegionID, store.Public, store.Precondition{}, region.Change{RegionName: &renamed}, ev(store.OpRegionUpdate))
	var invalid region.Invalid
	if !errors.As(err, &invalid) || invalid[0].Field != "region_name" {
		t.Fatalf("a rename: %v", err)
	}
	_, err = s.UpdateRegion(ctx, "up", r.RegionID, store.Public, store.Precondition{}, region.Change{URL: &badURL}, ev(store.OpRegionUpdate))
	if !errors.As(err, &invalid) || invalid[0].Field != "url" {
		t.Fatalf("an invalid url: %v", err)
	}
	got, _ = s.GetRegion(ctx, "up", r.RegionID, store.Public)
	if gen, _ := s.Generation(ctx, "up"); got.Desc != "maintenance" || got.Version != 2 || gen != gen0+1 {
		t.Fatalf("after refused writes: desc %q version %d gen %d", got.Desc, got.Version, gen)
	}
	if _, err := s.UpdateRegion(ctx, "other", r.RegionID, store.Public, store.Precondition{}, region.Change{}, ev(store.OpRegionUpdate)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update in another enterprise: %v", err)
	}
}

func testConcurrentUpdates(t *testing.T, s *store.Store) {
	ctx := context.Background()
	r := mustCreate(t, s, newRegion("cc", "cc-a"))
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			desc := fmt.Sprintf("writer %d", i)
			_, err := s.UpdateRegion(ctx, "cc", r.RegionID, store.Public, store.AtVersion(1), region.Change{Desc: &desc}, ev(store.OpRegionUpdate))
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, store.ErrVersionMismatch):
			default:
				t.Errorf("writer %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	got, _ := s.GetRegion(ctx, "cc", r.RegionID, store.Public)
	if wins.Load() != 1 || got.Version != 2 || !strings.HasPrefix(got.Desc, "writer ") {
		t.Fatalf("%d writers won; final %+v", wins.Load(), got)
	}
}

func testDelete(t *testing.T, s *store.Store) {
	ctx := context.Background()
	r := mustCreate(t, s, newRegion("del", "del-a"))
	if _, err := s.DeleteRegion(ctx, "del", r.RegionID, store.AtVersion(7), ev(store.OpRegionDelete)); !errors.Is(err, store.ErrVersionMismatch) {
		t.Fatalf("delete at wrong version: %v", err)
	}
	if _, err := s.DeleteRegion(ctx, "other", r.RegionID, store.Precondition{}, ev(store.OpRegionDelete)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete from another enterprise: %v", err)
	}
	if _, err := s.DeleteRegion(ctx, "del", r.RegionID, store.AtVersion(1), ev(store.OpRegionDelete)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetRegion(ctx, "del", r.RegionID, store.Public); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if _, err := s.DeleteRegion(ctx, "del", r.RegionID, store.Precondition{}, ev(store.OpRegionDelete)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func testFilters(t *testing.T, s *store.Store) {
	ctx := context.Background()
	specs := []struct {
		name, alias string
		status      region.Status
		scope       region.Scope
	}{
		{"f-bj", "Beijing", region.StatusEnabled, region.ScopePrivate},
		{"f-hz", "Hangzhou 100%", region.StatusMaintenance, region.ScopePublic},
		{"f-sh", "Shanghai_1", region.StatusDisabled, region.ScopePublic},
		{"f-gz", "Guangzhou", region.StatusEnabled, region.ScopePublic},
	}
	for _, sp := range specs {
		r := newRegion("flt", sp.name)
		r.RegionAlias, r.Status, r.Scope = sp.alias, sp.status, sp.scope
		mustCreate(t, s, r)
	}
	cases := []struct {
		q    store.RegionQuery
		want string
	}{
		{store.RegionQuery{}, "f-bj,f-gz,f-hz,f-sh"},
		{store.RegionQuery{Statuses: []region.Status{region.StatusEnabled}}, "f-bj,f-gz"},
		{store.RegionQuery{Statuses: []region.Status{region.StatusDisabled, region.StatusMaintenance}}, "f-hz,f-sh"},
		{store.RegionQuery{Scope: region.ScopePublic}, "f-gz,f-hz,f-sh"},
		{store.RegionQuery{Scope: region.ScopePublic, Statuses: []region.Status{region.StatusEnabled}}, "f-gz"},
		{store.RegionQuery{Text: "HANGZ"}, "f-hz"}, // alias, case-insensitively
		{store.RegionQuery{Text: "f-s"}, "f-sh"},   // name
		{store.RegionQuery{Text: "F-S"}, "f-sh"},   // name, case-insensitively
		{store.RegionQuery{Text: "%"}, "f-hz"},     // a literal %, not a wildcard
		{store.RegionQuery{Text: "_"}, "f-sh"},     // a literal _, not a wildcard
		{store.RegionQuery{Text: "nothing"}, ""},   // no match
		{store.RegionQuery{After: "f-gz"}, "f-hz,f-sh"},
		{store.RegionQuery{After: "f-bj", Limit: 2}, "f-gz,f-hz"},
		{store.RegionQuery{Scope: region.ScopePublic, After: "f-gz", Limit: 1}, "f-hz"},
	}
	for _, c := range cases {
		c.q.EnterpriseID = "flt"
		got, err := s.ListRegions(ctx, c.q)
		if err != nil {
			t.Fatal(err)
		}
		if names(got) != c.want {
			t.Errorf("%+v: got %q, want %q", c.q, names(got), c.want)
		}
		n, err := s.CountRegions(ctx, c.q)
		if err != nil {
			t.Fatal(err)
		}
		c.q.After, c.q.Limit = "", 0
		all, _ := s.ListRegions(ctx, c.q)
		if int(n) != len(all) {
			t.Errorf("%+v: count %d, but %d match", c.q, n, len(all))
		}
	}
}

func testKeyFileEncrypted(t *testing.T, s *store.Store) {
	ctx := context.Background()
	cert, key := testpki.Pair(t, "kf")
	r := newRegion("kf", "kf-a")
	r.CertFile, r.KeyFile, r.SSLCACert = &cert, &key, &cert
	r = mustCreate(t, s, r)

	got, err := s.GetRegion(ctx, "kf", r.RegionID, store.WithSecrets)
	if err != nil || got.KeyFile == nil || *got.KeyFile != key || *got.CertFile != cert || *got.SSLCACert != cert {
		t.Fatalf("secrets read back: %v", err)
	}
	// The raw row holds no PEM key text, only ciphertext and the key id.
	raw := rawRow(t, s, r.RegionID)
	if strings.Contains(raw["key_file"], "PRIVATE KEY") || strings.Contains(raw["key_file"], key[40:80]) {
		t.Fatal("key_file is stored in plain text")
	}
	if raw["key_file_key_id"] != s.Keyring().PrimaryID() {
		t.Fatalf("key id %q, want %q", raw["key_file_key_id"], s.Keyring().PrimaryID())
	}
	// Reads without secrets carry no TLS field at all; cert reads carry no key.
	pub, _ := s.GetRegion(ctx, "kf", r.RegionID, store.Public)
	certs, _ := s.GetRegion(ctx, "kf", r.RegionID, store.WithCerts)
	if pub.SSLCACert != nil || pub.CertFile != nil || pub.KeyFile != nil || certs.KeyFile != nil || certs.CertFile == nil {
		t.Fatalf("reading modes leak: public %+v certs %+v", pub, certs)
	}
	list, _ := s.ListRegions(ctx, store.RegionQuery{EnterpriseID: "kf", Reading: store.WithCerts})
	if len(list) != 1 || list[0].KeyFile != nil {
		t.Fatal("a list read key_file")
	}
}

// rawRow reads a region_info row as strings, bypassing the store's decryption.
func rawRow(t *testing.T, s *store.Store, regionID string) map[string]string {
	t.Helper()
	w, _ := s.DBs()
	var keyFile, keyID, name string
	if err := w.QueryRow("SELECT region_name, COALESCE(key_file, ''), COALESCE(key_file_key_id, '') FROM region_info WHERE region_id = ?", regionID).Scan(&name, &keyFile, &keyID); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"region_name": name, "key_file": keyFile, "key_file_key_id": keyID}
}

func testRotate(t *testing.T, dsn string) {
	ctx := context.Background()
	oldKey, newKey := secrets.GenerateKey(), secrets.GenerateKey()
	s := open(t, dsn, keyring(t, oldKey))
	cert, key := testpki.Pair(t, "rot")
	var ids []string
	for i := 0; i < 3; i++ {
		r := newRegion("rot", fmt.Sprintf("rot-%d", i))
		r.CertFile, r.KeyFile = &cert, &key
		ids = append(ids, mustCreate(t, s, r).RegionID)
	}
	s.Close()

	rotated := open(t, dsn, keyring(t, newKey, oldKey))
	n, err := rotated.RotateSecrets(ctx)
	if err != nil || n != 3 {
		t.Fatalf("rotate: %d, %v", n, err)
	}
	if n, _ := rotated.RotateSecrets(ctx); n != 0 {
		t.Fatalf("second rotation rewrote %d", n)
	}
	// Only the new key is needed now; the version (what clients see) did not change.
	onlyNew := open(t, dsn, keyring(t, newKey))
	for _, id := range ids {
		got, err := onlyNew.GetRegion(ctx, "rot", id, store.WithSecrets)
		if err != nil || *got.KeyFile != key || got.Version != 1 {
			t.Fatalf("after rotation: %v", err)
		}
	}
	// A server with the wrong key says so instead of returning garbage.
	wrong := open(t, dsn, keyring(t, oldKey))
	if _, err := wrong.GetRegion(ctx, "rot", ids[0], store.WithSecrets); !errors.Is(err, store.ErrSecretUnreadable) {
		t.Fatalf("wrong key: %v", err)
	}
	// It still changes what it can read, and carries the ciphertext it cannot read over as it is.
	before := rawRow(t, wrong, ids[0])
	changed := "changed without the key"
	if _, err := wrong.UpdateRegion(ctx, "rot", ids[0], store.Public, store.Precondition{}, region.Change{Desc: &changed}, ev(store.OpRegionUpdate)); err != nil {
		t.Fatalf("a write that leaves key_file alone needed the key: %v", err)
	}
	if after := rawRow(t, wrong, ids[0]); after["key_file"] != before["key_file"] || after["key_file_key_id"] != before["key_file_key_id"] {
		t.Fatal("a write that leaves key_file alone rewrote it")
	}
	if got, err := onlyNew.GetRegion(ctx, "rot", ids[0], store.WithSecrets); err != nil || *got.KeyFile != key || got.Desc != "changed without the key" {
		t.Fatalf("after a write without the key: %+v %v", got, err)
	}
	// Without any key, storing a key_file is refused.
	none := open(t, dsn, nil)
	r := newRegion("rot", "rot-nokey")
	r.CertFile, r.KeyFile = &cert, &key
	var invalid region.Invalid
	if _, err := none.CreateRegion(ctx, r, ev(store.OpRegionCreate)); !errors.As(err, &invalid) || len(invalid) != 1 || invalid[0].Field != "key_file" {
		t.Fatalf("no key: %v", err)
	}
}

func testTokens(t *testing.T, s *store.Store) {
	ctx := context.Background()
	base := time.Now().UTC().Truncate(time.Millisecond)
	var made []token.Token
	for i := 0; i < 3; i++ {
		secret := token.NewSecret()
		tk := token.Token{ID: token.NewID(), EnterpriseID: "tk", Prefix: token.PrefixOf(secret), Hash: token.Hash(secret),
			Scopes: []token.Scope{token.RegionsRead}, Note: fmt.Sprint("t", i), CreatedAt: base.Add(time.Duration(i) * time.Second)}
		if err := s.CreateToken(ctx, tk, store.AuditEvent{EnterpriseID: "tk", TokenID: "cli", Operation: store.OpTokenCreate}); err != nil {
			t.Fatal(err)
		}
		made = append(made, tk)
	}
	got, err := s.TokenByHash(ctx, made[1].Hash)
	if err != nil || got.ID != made[1].ID || !got.Has(token.RegionsRead) || got.Has(token.TokensAdmin) {
		t.Fatalf("by hash: %+v, %v", got, err)
	}
	if _, err := s.TokenByHash(ctx, token.Hash("rgd_unknown")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}
	list, _ := s.ListTokens(ctx, "tk", nil, 2)
	if len(list) != 2 || list[0].ID != made[2].ID || list[1].ID != made[1].ID {
		t.Fatalf("newest first: %+v", list)
	}
	rest, _ := s.ListTokens(ctx, "tk", &store.TokenCursor{CreatedAt: list[1].CreatedAt, ID: list[1].ID}, 2)
	if len(rest) != 1 || rest[0].ID != made[0].ID {
		t.Fatalf("next page: %+v", rest)
	}
	if _, err := s.RevokeToken(ctx, "other", made[0].ID, ev(store.OpTokenRevoke)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke from another enterprise: %v", err)
	}
	rv, err := s.RevokeToken(ctx, "tk", made[0].ID, ev(store.OpTokenRevoke))
	if err != nil || rv.RevokedAt == nil || rv.Usable(time.Now()) == "" {
		t.Fatalf("revoke: %+v, %v", rv, err)
	}
	again, err := s.RevokeToken(ctx, "tk", made[0].ID, ev(store.OpTokenRevoke))
	if err != nil || !again.RevokedAt.Equal(*rv.RevokedAt) {
		t.Fatalf("second revoke changed the time: %v", err)
	}
	events, _ := s.ListAudit(ctx, "tk", nil, 100)
	revokes := 0
	for _, e := range events {
		if e.Operation == store.OpTokenRevoke {
			revokes++
		}
	}
	if revokes != 1 {
		t.Fatalf("%d revoke events, want 1", revokes)
	}
	if err := s.TouchToken(ctx, made[1].ID, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	touched, _ := s.TokenByHash(ctx, made[1].Hash)
	if touched.LastUsedAt == nil || touched.LastUsedAt.Sub(base.Add(time.Hour)).Abs() > time.Millisecond {
		t.Fatalf("last used: %v", touched.LastUsedAt)
	}
}

func testAudit(t *testing.T, s *store.Store) {
	ctx := context.Background()
	r := newRegion("au", "au-a")
	e := ev(store.OpRegionCreate)
	e.EnterpriseID, e.ChangedFields = "au", []string{"region_name", "url"}
	if _, err := s.CreateRegion(ctx, r, e); err != nil {
		t.Fatal(err)
	}
	cert, key := testpki.Pair(t, "au")
	e = ev(store.OpRegionUpdate)
	e.EnterpriseID = "au"
	disabled, certp, keyp := region.StatusDisabled, &cert, &key
	if _, err := s.UpdateRegion(ctx, "au", r.RegionID, store.WithSecrets, store.Precondition{}, region.Change{Status: &disabled, CertFile: &certp, KeyFile: &keyp}, e); err != nil {
		t.Fatal(err)
	}
	events, err := s.ListAudit(ctx, "au", nil, 10)
	if err != nil || len(events) != 2 {
		t.Fatalf("audit: %+v, %v", events, err)
	}
	upd, crt := events[0], events[1]
	if upd.Operation != store.OpRegionUpdate || crt.Operation != store.OpRegionCreate || upd.ID <= crt.ID {
		t.Fatalf("order: %+v", events)
	}
	if strings.Join(upd.ChangedFields, ",") != "status,cert_file,key_file" || upd.TargetID != r.RegionID || upd.TokenID != "tok_test" || upd.RequestID != "req-1" {
		t.Fatalf("update event: %+v", upd)
	}
	cursor := upd.Cursor()
	older, _ := s.ListAudit(ctx, "au", &cursor, 10)
	if len(older) != 1 || older[0].ID != crt.ID {
		t.Fatalf("page: %+v", older)
	}
	if other, _ := s.ListAudit(ctx, "someone-else", nil, 10); len(other) != 0 {
		t.Fatal("audit leaks across enterprises")
	}
}

func testMeta(t *testing.T, s *store.Store) {
	ctx := context.Background()
	a, err := s.Meta(ctx, "test-key", "first")
	if err != nil || a != "first" {
		t.Fatalf("meta: %q %v", a, err)
	}
	b, _ := s.Meta(ctx, "test-key", "second")
	if b != "first" {
		t.Fatalf("meta changed to %q", b)
	}
}

func testView(t *testing.T, s *store.Store) {
	ctx := context.Background()
	mustCreate(t, s, newRegion("vw", "vw-a"))
	var gen int64
	var list []region.Region
	v, err := s.OpenView(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if gen, err = v.Generation(ctx, "vw"); err != nil {
		t.Fatal(err)
	}
	// A write that commits inside the view is not seen by it.
	if _, err := s.CreateRegion(ctx, newRegion("vw", "vw-b"), ev(store.OpRegionCreate)); err != nil {
		t.Fatal(err)
	}
	list, err = v.ListRegions(ctx, store.RegionQuery{EnterpriseID: "vw"})
	v.Close()
	if err != nil {
		t.Fatal(err)
	}
	if names(list) != "vw-a" || gen != 1 {
		t.Fatalf("view saw %q at generation %d", names(list), gen)
	}
	if now, _ := s.Generation(ctx, "vw"); now != 2 {
		t.Fatalf("generation after: %d", now)
	}
}

func testStrangeInput(t *testing.T, s *store.Store) {
	ctx := context.Background()
	// Values the API accepts as text must come back byte for byte: quotes, SQL, 4-byte UTF-8.
	r := newRegion("odd", "odd-a")
	r.RegionAlias = "Robert'); DROP TABLE region_info;--"
	r.Desc = "数据中心 🚀 \"quoted\" \\ back\\slash \x00 nul"
	mustCreate(t, s, r)
	got, err := s.GetRegion(ctx, "odd", r.RegionID, store.Public)
	if err != nil || got.RegionAlias != r.RegionAlias || got.Desc != r.Desc {
		t.Fatalf("round trip: %q %q %v", got.RegionAlias, got.Desc, err)
	}
	if list, err := s.ListRegions(ctx, store.RegionQuery{EnterpriseID: "odd", Text: "DROP TABLE"}); err != nil || len(list) != 1 {
		t.Fatalf("search for SQL text: %d, %v", len(list), err)
	}
}
