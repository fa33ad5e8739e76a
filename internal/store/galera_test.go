package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/secrets"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/testpki"
	"github.com/regiond/regiond/internal/token"
)

// The tests of this file need a MariaDB Galera cluster: REGIOND_TEST_GALERA lists the SQL
// addresses of its nodes (root without a password), as `make test-galera` sets it after
// scripts/galera.sh start. Without it they are skipped; with it, an unreachable node fails them.

func galeraNodes(t *testing.T) []string {
	t.Helper()
	v := os.Getenv("REGIOND_TEST_GALERA")
	if v == "" {
		t.Skip("REGIOND_TEST_GALERA is not set: no Galera cluster to test against (make test-galera runs these)")
	}
	nodes := strings.Split(v, ",")
	if len(nodes) < 2 {
		t.Fatalf("REGIOND_TEST_GALERA=%q: want the addresses of at least two nodes", v)
	}
	return nodes
}

// galeraDB creates a fresh database on the cluster and returns its DSN through each node.
func galeraDB(t *testing.T) []string {
	t.Helper()
	nodes := galeraNodes(t)
	admin, err := sql.Open("mysql", "root@tcp("+nodes[0]+")/?timeout=5s")
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("regiond_galera_%d", time.Now().UnixNano())
	if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		t.Fatalf("creating a database on the Galera cluster (%s): %v", nodes[0], err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP DATABASE IF EXISTS " + name)
		admin.Close()
	})
	dsns := make([]string, len(nodes))
	for i, n := range nodes {
		dsns[i] = "mysql://root@tcp(" + n + ")/" + name
		// Each node applies the CREATE DATABASE in its own time: wait until it has.
		db, err := sql.Open("mysql", "root@tcp("+n+")/?timeout=5s&wsrep_sync_wait=1")
		if err == nil {
			err = db.QueryRow("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(new(string))
			db.Close()
		}
		if err != nil {
			t.Fatalf("database %s through node %s: %v", name, n, err)
		}
	}
	return dsns
}

// openEach opens (without migrating) one store per DSN.
func openEach(t *testing.T, dsns []string, keyring *secrets.Keyring) []*store.Store {
	t.Helper()
	out := make([]*store.Store, len(dsns))
	for i, dsn := range dsns {
		s, err := store.Open(context.Background(), dsn, store.Options{Keyring: keyring, MaxOpenConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out[i] = s
	}
	return out
}

// together runs fn(i) for i in [0, n) at once and returns their errors.
func together(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// TestGaleraConcurrentMigrate: replicas starting at once against different nodes of a fresh
// database (GET_LOCK is node-local on Galera) all migrate without an error, to one complete schema.
func TestGaleraConcurrentMigrate(t *testing.T) {
	galeraNodes(t)
	ctx := context.Background()
	for round := 0; round < 5; round++ {
		dsns := galeraDB(t)
		stores := openEach(t, append(dsns, dsns...), nil) // two replicas per node
		for i, err := range together(len(stores), func(i int) error { return stores[i].Migrate(ctx) }) {
			if err != nil {
				t.Fatalf("round %d: replica %d (%s): %v", round, i, dsns[i%len(dsns)], err)
			}
		}
		for i, s := range stores {
			if v, err := s.SchemaVersion(ctx); err != nil || v != store.LatestSchemaVersion() {
				t.Fatalf("round %d: replica %d sees schema version %q (%v), want %q", round, i, v, err, store.LatestSchemaVersion())
			}
		}
		// Each migration ran once: the bookkeeping table lists each id once.
		w, _ := stores[0].DBs()
		var n, distinct int
		if err := w.QueryRow("SELECT COUNT(*), COUNT(DISTINCT id) FROM regiond_migrations").Scan(&n, &distinct); err != nil || n != distinct {
			t.Fatalf("round %d: regiond_migrations holds %d rows for %d ids (%v)", round, n, distinct, err)
		}
	}
}

// TestGaleraConditionalWritesOneWinner: writers on three nodes updating one region at the version
// they all read: exactly one wins each round, every other one is told the version changed (412
// upstream), none gets another error. Certification conflicts surface as deadlock errors at
// COMMIT; the store retries them, and the retry sees the winner's version.
func TestGaleraConditionalWritesOneWinner(t *testing.T) {
	ctx := context.Background()
	stores := openEach(t, galeraDB(t), nil)
	if err := stores[0].Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	r := mustCreate(t, stores[0], newRegion("cw", "cw-a"))
	const perNode = 8
	version := r.Version
	for round := 0; round < 10; round++ {
		errs := together(perNode*len(stores), func(i int) error {
			s := stores[i%len(stores)]
			desc := fmt.Sprintf("round %d writer %d", round, i)
			_, err := s.UpdateRegion(ctx, "cw", r.RegionID, store.Public, store.AtVersion(version), region.Change{Desc: &desc}, ev(store.OpRegionUpdate))
			return err
		})
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrVersionMismatch):
			default:
				t.Errorf("round %d, writer %d (node %d): %v; want success or ErrVersionMismatch", round, i, i%len(stores)+1, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d writers won, want exactly 1", round, wins)
		}
		version++
	}
}

// TestGaleraAutocommitWrites: the writes outside the store's transactions (server-wide values,
// leases, a token's last use, audit pruning, key rotation) made at once through different nodes
// never fail with a certification conflict, and agree on one result.
func TestGaleraAutocommitWrites(t *testing.T) {
	ctx := context.Background()
	dsns := galeraDB(t)
	oldKey, newKey := secrets.GenerateKey(), secrets.GenerateKey()
	old := openEach(t, dsns[:1], keyring(t, oldKey))[0]
	if err := old.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	cert, key := testpki.Pair(t, "ac")
	for i := 0; i < 20; i++ {
		r := newRegion("ac", fmt.Sprintf("ac-%d", i))
		r.CertFile, r.KeyFile = &cert, &key
		mustCreate(t, old, r)
	}
	stores := openEach(t, append(dsns, dsns...), keyring(t, newKey, oldKey))
	n := len(stores)
	fail := func(what string, errs []error) {
		t.Helper()
		for i, err := range errs {
			if err != nil {
				t.Errorf("%s through node %d: %v", what, i%len(dsns)+1, err)
			}
		}
	}
	for round := 0; round < 10; round++ {
		values := make([]string, n)
		fail("Meta", together(n, func(i int) (err error) {
			values[i], err = stores[i].Meta(ctx, fmt.Sprint("key-", round), fmt.Sprint("value-", i))
			return err
		}))
		if slices.Sort(values); len(slices.Compact(slices.Clone(values))) != 1 {
			t.Fatalf("round %d: replicas got different values: %v", round, values)
		}
		held := make([]bool, n)
		fail("TryLease", together(n, func(i int) (err error) {
			held[i], err = stores[i].TryLease(ctx, fmt.Sprint("lease-", round), fmt.Sprint("holder-", i), time.Hour)
			return err
		}))
		if c := len(slices.DeleteFunc(held, func(h bool) bool { return !h })); c != 1 {
			t.Fatalf("round %d: %d replicas hold the lease, want 1", round, c)
		}
	}
	tk := token.Token{ID: token.NewID(), EnterpriseID: "ac", Prefix: "p", Hash: token.Hash(token.NewSecret()),
		Scopes: []token.Scope{token.RegionsRead}, CreatedAt: time.Now().UTC()}
	if err := stores[0].CreateToken(ctx, tk, ev(store.OpTokenCreate)); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 10; round++ {
		fail("TouchToken", together(n, func(i int) error {
			return stores[i].TouchToken(ctx, tk.ID, time.Now().Add(time.Duration(i)*time.Millisecond))
		}))
		fail("PruneAudit", together(n, func(i int) error {
			_, err := stores[i].PruneAudit(ctx, time.Now().Add(time.Hour), 3)
			return err
		}))
	}
	rotated := make([]int, n)
	fail("RotateSecrets", together(n, func(i int) (err error) {
		rotated[i], err = stores[i].RotateSecrets(ctx)
		return err
	}))
	if undecryptable, _, err := openEach(t, dsns[2:], keyring(t, newKey))[0].UndecryptableKeyFiles(ctx); err != nil || undecryptable != 0 {
		t.Fatalf("after rotating through every node at once, %d key_file values are not under the new key (%v; rewrites per replica %v)", undecryptable, err, rotated)
	}
}

// TestGaleraReadYourWrites: what a node acknowledged is read through another node at once:
// regions, their versions, tokens and generations (Galera applies write sets asynchronously;
// regiond reads with wsrep_sync_wait=1 on Galera).
func TestGaleraReadYourWrites(t *testing.T) {
	ctx := context.Background()
	stores := openEach(t, galeraDB(t), nil)
	if err := stores[0].Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	a, b := stores[0], stores[1]
	stale := map[string]int{}
	const rounds = 150
	for i := 0; i < rounds; i++ {
		w, err := a.CreateRegion(ctx, newRegion("ryw", fmt.Sprint("ryw-", i)), ev(store.OpRegionCreate))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.GetRegion(ctx, "ryw", w.Region.RegionID, store.Public); err != nil {
			stale["region created on A, read on B: "+err.Error()]++
		}
		if g, err := b.Generation(ctx, "ryw"); err != nil || g != w.Generation {
			stale["generation on B behind A's write"]++
		}
		desc := "updated " + w.Region.RegionName
		u, err := a.UpdateRegion(ctx, "ryw", w.Region.RegionID, store.Public, store.Precondition{}, region.Change{Desc: &desc}, ev(store.OpRegionUpdate))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := b.GetRegion(ctx, "ryw", w.Region.RegionID, store.Public); err != nil || got.Version != u.Region.Version {
			stale["region updated on A, older version read on B"]++
		}
		secret := token.NewSecret()
		tk := token.Token{ID: token.NewID(), EnterpriseID: "ryw", Prefix: token.PrefixOf(secret), Hash: token.Hash(secret),
			Scopes: []token.Scope{token.RegionsRead}, CreatedAt: time.Now().UTC()}
		if err := a.CreateToken(ctx, tk, ev(store.OpTokenCreate)); err != nil {
			t.Fatal(err)
		}
		if _, err := b.TokenByHash(ctx, tk.Hash); err != nil {
			stale["token minted on A, looked up on B: "+err.Error()]++
		}
	}
	if len(stale) > 0 {
		t.Fatalf("stale reads through node B in %d rounds: %v", rounds, stale)
	}
}

// TestGaleraAuditNewestFirst: audit events written through two nodes at once (AUTO_INCREMENT
// interleaves per node, so ids are not in time order) list newest first by time, and paging
// returns each exactly once.
func TestGaleraAuditNewestFirst(t *testing.T) {
	ctx := context.Background()
	stores := openEach(t, galeraDB(t), nil)
	if err := stores[0].Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const perNode = 40
	together(2, func(n int) error {
		for i := 0; i < perNode; i++ {
			e := ev(store.OpRegionCreate)
			e.EnterpriseID = "an"
			if _, err := stores[n].CreateRegion(ctx, newRegion("an", fmt.Sprintf("an-%d-%d", n, i)), e); err != nil {
				t.Error(err)
			}
		}
		return nil
	})
	all, err := stores[1].ListAudit(ctx, "an", nil, 1000)
	if err != nil || len(all) != 2*perNode {
		t.Fatalf("audit: %d events, %v", len(all), err)
	}
	var paged []store.AuditEvent
	var after *store.AuditCursor
	for {
		page, err := stores[0].ListAudit(ctx, "an", after, 7)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, page...)
		if len(page) < 7 {
			break
		}
		c := page[len(page)-1].Cursor()
		after = &c
	}
	idOrder := 0
	for i := range all {
		if i > 0 && all[i].ID > all[i-1].ID {
			idOrder++
		}
		if i > 0 && (all[i].Time.After(all[i-1].Time) || all[i].Time.Equal(all[i-1].Time) && all[i].ID > all[i-1].ID) {
			t.Fatalf("event %d (id %d, %s) listed after event %d (id %d, %s): not newest first", i, all[i].ID, all[i].Time, i-1, all[i-1].ID, all[i-1].Time)
		}
		if i >= len(paged) || paged[i].ID != all[i].ID {
			t.Fatalf("paging by 7 gives a different sequence at %d: %d events paged, %d listed", i, len(paged), len(all))
		}
	}
	t.Logf("%d of %d events have a larger id than the newer event before them", idOrder, len(all))
}

// TestGaleraStartChecks: what cannot hold on Galera is reported at start, naming the setting.
func TestGaleraStartChecks(t *testing.T) {
	ctx := context.Background()
	dsns := galeraDB(t)
	s := openEach(t, dsns[:1], nil)[0]
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	problems, err := s.CheckCluster(ctx)
	if err != nil || len(problems) != 0 {
		t.Fatalf("a healthy cluster: %v, %v", problems, err)
	}
	w, _ := s.DBs()
	var syncWait int
	if err := w.QueryRow("SELECT @@SESSION.wsrep_sync_wait").Scan(&syncWait); err != nil || syncWait != 1 {
		t.Fatalf("wsrep_sync_wait of regiond's sessions on Galera: %d (%v), want 1", syncWait, err)
	}

	overridden := openEach(t, []string{dsns[1] + "?wsrep_sync_wait=0"}, nil)[0]
	problems, err = overridden.CheckCluster(ctx)
	if err != nil || len(problems) != 1 || problems[0].Fatal || !strings.Contains(problems[0].Message, "wsrep_sync_wait") {
		t.Fatalf("wsrep_sync_wait=0 in the DSN: %+v, %v; want one warning naming wsrep_sync_wait", problems, err)
	}

	statement := openEach(t, []string{dsns[1] + "?binlog_format=%27STATEMENT%27"}, nil)[0]
	problems, err = statement.CheckCluster(ctx)
	if err != nil || len(problems) != 1 || !problems[0].Fatal || !strings.Contains(problems[0].Message, "binlog_format") {
		t.Fatalf("binlog_format=STATEMENT: %+v, %v; want one error naming binlog_format", problems, err)
	}

	// One of regiond's tables not replicated: fatal. Another application's table in the same
	// database, without a primary key and not replicated: warnings.
	for _, stmt := range []string{"ALTER TABLE regiond_lease ENGINE=MyISAM", "CREATE TABLE other_app (v int) ENGINE=MyISAM"} {
		if _, err := w.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	problems, err = s.CheckCluster(ctx)
	var text []string
	for _, p := range problems {
		text = append(text, fmt.Sprintf("fatal=%v %s", p.Fatal, p.Message))
	}
	got := strings.Join(text, "\n")
	if err != nil || len(problems) != 3 || !strings.HasPrefix(text[0], "fatal=false table other_app has ENGINE=MyISAM") ||
		!strings.HasPrefix(text[1], "fatal=false table other_app has no PRIMARY KEY") || !strings.HasPrefix(text[2], "fatal=true table regiond_lease has ENGINE=MyISAM") {
		t.Fatalf("a MyISAM table of regiond's, another's without a primary key: %v (%v)", got, err)
	}
}

// TestFailoverDSN: the failover network dials the addresses of its list in turn, skipping those
// that refuse, and starts each connection from the next address so that connections spread.
func TestFailoverDSN(t *testing.T) {
	nodes := galeraNodes(t)
	dsn := galeraDB(t)[0]
	name := dsn[strings.LastIndex(dsn, "/")+1:]
	refused := "127.0.0.1:1"
	s, err := store.Open(context.Background(), "mysql://root@failover("+refused+","+strings.Join(nodes, ",")+")/"+name, store.Options{MaxOpenConns: 12})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w, _ := s.DBs()
	conns := make([]*sql.Conn, 12)
	ports := map[int]int{}
	for i := range conns {
		c, err := w.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
		var port int
		if err := c.QueryRowContext(context.Background(), "SELECT @@port").Scan(&port); err != nil {
			t.Fatal(err)
		}
		ports[port]++
	}
	if len(ports) != len(nodes) {
		t.Fatalf("12 connections went to ports %v; want them spread over the %d nodes", ports, len(nodes))
	}
	var myErr *mysql.MySQLError
	_, err = store.Open(context.Background(), "mysql://root@failover("+refused+",127.0.0.1:2)/"+name, store.Options{})
	if err == nil || !errors.Is(err, store.ErrUnavailable) || errors.As(err, &myErr) {
		t.Fatalf("no address answers: %v, want ErrUnavailable", err)
	}
}
