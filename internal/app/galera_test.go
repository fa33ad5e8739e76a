package app

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/regiond/regiond/internal/store"
)

// The tests of this file run regiond replicas against a MariaDB Galera cluster, each replica
// through its own node: REGIOND_TEST_GALERA lists the SQL addresses of nodes 1, 2, 3 in that
// order (root without a password), as `make test-galera` sets it after scripts/galera.sh start.
// Without it they are skipped. They change the cluster (a node rejects queries, a node is killed
// and restarted): nothing else may use it meanwhile.

func galeraNodes(t *testing.T) []string {
	t.Helper()
	v := os.Getenv("REGIOND_TEST_GALERA")
	if v == "" {
		t.Skip("REGIOND_TEST_GALERA is not set: no Galera cluster to test against (make test-galera runs these)")
	}
	nodes := strings.Split(v, ",")
	if len(nodes) != 3 {
		t.Fatalf("REGIOND_TEST_GALERA=%q: want the addresses of nodes 1, 2 and 3", v)
	}
	return nodes
}

// galeraDB creates a fresh database on the cluster and returns its name.
func galeraDB(t *testing.T) string {
	t.Helper()
	nodes := galeraNodes(t)
	name := fmt.Sprintf("regiond_galera_%d", time.Now().UnixNano())
	admin := nodeSQL(t, nodes[0])
	if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		t.Fatalf("creating a database on the Galera cluster: %v", err)
	}
	t.Cleanup(func() { nodeSQL(t, nodes[0]).Exec("DROP DATABASE IF EXISTS " + name) })
	for _, n := range nodes {
		// Each node applies the CREATE DATABASE in its own time: wait until it has.
		if err := nodeSQL(t, n).QueryRow("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(new(string)); err != nil {
			t.Fatalf("database %s through node %s: %v", name, n, err)
		}
	}
	return name
}

// nodeSQL is a connection pool to one node (reads wait for the cluster), closed with the test.
func nodeSQL(t *testing.T, addr string) *sql.DB {
	db, err := sql.Open("mysql", "root@tcp("+addr+")/?timeout=5s&wsrep_sync_wait=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func tcpDSN(addr, db string) string { return "mysql://root@tcp(" + addr + ")/" + db }

func failoverDSN(addrs []string, db string) string {
	return "mysql://root@" + store.FailoverNetwork + "(" + strings.Join(addrs, ",") + ")/" + db
}

// replica is a `regiond serve` process.
type replica struct {
	cmd            *exec.Cmd
	addr           string
	stdout, stderr *syncBuffer
	done           chan error
}

func (r *replica) url(path string) string { return "http://" + r.addr + path }

// launchReplica starts `regiond serve ARGS` with env added to this process's environment and
// returns once it serves; it does not touch t, so that replicas can start at once.
func launchReplica(t *testing.T, env []string, args ...string) (*replica, error) {
	bin, err := buildBinary()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-flush-interval", "0"}, args...)...)
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, "REGIOND_") }), env...)
	r := &replica{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout = r.stdout
	pipe, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	addrCh, drained := make(chan string, 1), make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(pipe)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			r.stderr.Write([]byte(sc.Text() + "\n"))
			var ev struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Msg == "serving" {
				addrCh <- ev.Addr
			}
		}
	}()
	go func() { <-drained; r.done <- cmd.Wait() }()
	select {
	case r.addr = <-addrCh:
		return r, nil
	case err := <-r.done:
		return nil, fmt.Errorf("regiond exited: %v\n%s", err, r.stderr.String())
	case <-time.After(90 * time.Second):
		return nil, fmt.Errorf("regiond did not start within 90s:\n%s", r.stderr.String())
	}
}

func mustLaunch(t *testing.T, env []string, args ...string) *replica {
	t.Helper()
	r, err := launchReplica(t, env, args...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var galeraClient = &http.Client{Timeout: 30 * time.Second}

type reply struct {
	status int
	header http.Header
	body   []byte
}

// call sends a request with the token and returns the reply, or the error of a request that got
// none.
func call(method, url, tok, body string, header ...string) (reply, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Authorization", tok)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
		if method == http.MethodPatch {
			req.Header.Set("Content-Type", "application/merge-patch+json")
		}
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := galeraClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, err
}

func mustCall(t *testing.T, want int, method, url, tok, body string, header ...string) reply {
	t.Helper()
	r, err := call(method, url, tok, body, header...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if r.status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, url, r.status, r.body, want)
	}
	return r
}

func regionBody(name string) string {
	return fmt.Sprintf(`{"region_name":%q,"region_alias":"Galera","url":"https://%s.example.com:8443"}`, name, name)
}

func decode[T any](t *testing.T, r reply) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return v
}

// errorLines are the log lines at level ERROR.
func errorLines(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, `"level":"ERROR"`) {
			out = append(out, l)
		}
	}
	return out
}

var adminTokenLine = regexp.MustCompile(`(?m)^\s+(rgd_\S+)\s*$`)

// TestGaleraConcurrentFirstStart: three replicas started at once on a fresh database, each
// through another node, all come up without an error, to one complete schema, and exactly one
// of them makes (and prints) the admin token, which then works on every replica.
func TestGaleraConcurrentFirstStart(t *testing.T) {
	nodes := galeraNodes(t)
	for round := 0; round < 2; round++ {
		db := galeraDB(t)
		replicas := make([]*replica, len(nodes))
		errs := make([]error, len(nodes))
		var wg sync.WaitGroup
		for i, n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				replicas[i], errs[i] = launchReplica(t, nil, "--database", tcpDSN(n, db))
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		var tokens []string
		for i, r := range replicas {
			if m := adminTokenLine.FindStringSubmatch(r.stdout.String()); m != nil {
				tokens = append(tokens, m[1])
			}
			if e := errorLines(r.stderr.String()); len(e) > 0 {
				t.Errorf("round %d: replica %d logged errors: %s", round, i, strings.Join(e, "\n"))
			}
		}
		if len(tokens) != 1 {
			t.Fatalf("round %d: %d replicas printed an admin token, want 1", round, len(tokens))
		}
		for _, r := range replicas {
			mustCall(t, 200, "GET", r.url("/openapi/v1/regions"), tokens[0], "")
		}
		var version string
		if err := nodeSQL(t, nodes[2]).QueryRow("SELECT id FROM " + db + ".regiond_migrations ORDER BY id DESC LIMIT 1").Scan(&version); err != nil ||
			version != store.LatestSchemaVersion() {
			t.Fatalf("round %d: schema version %q (%v), want %q", round, version, err, store.LatestSchemaVersion())
		}
	}
}

// TestGaleraReplicasOnDifferentNodes: two replicas, each through its own node, see each other's
// writes: at once for what they read from the database (a region, a token just minted), within
// --cache-staleness for their cached region lists; conditional writes sent to both at once have
// exactly one winner; the audit trail pages newest first.
func TestGaleraReplicasOnDifferentNodes(t *testing.T) {
	nodes := galeraNodes(t)
	db := galeraDB(t)
	const staleness = 500 * time.Millisecond
	env := []string{"REGIOND_ADMIN_TOKEN=" + processAdmin}
	// Every new token's first use is charged to the client's address as a possible failure.
	args := []string{"--rate-limit=0", "--auth-fail-rate=0", "--cache-staleness=" + staleness.String()}
	a := mustLaunch(t, env, append(args, "--database", tcpDSN(nodes[0], db))...)
	b := mustLaunch(t, env, append(args, "--database", tcpDSN(nodes[1], db))...)

	t.Run("TokenMintedOnAWorksOnB", func(t *testing.T) {
		for i := 0; i < 30; i++ {
			created := decode[struct{ Token string }](t, mustCall(t, 201, "POST", a.url("/openapi/v1/tokens"), processAdmin, `{"scopes":["regions:read"]}`))
			mustCall(t, 200, "GET", b.url("/openapi/v1/regions"), created.Token, "")
		}
	})

	t.Run("RegionWrittenOnAReadOnB", func(t *testing.T) {
		for i := 0; i < 30; i++ {
			r := decode[struct {
				RegionID string `json:"region_id"`
			}](t, mustCall(t, 201, "POST", a.url("/openapi/v1/regions"), processAdmin, regionBody(fmt.Sprint("ryw-", i))))
			got := mustCall(t, 200, "GET", b.url("/openapi/v1/regions/"+r.RegionID), processAdmin, "")
			patched := mustCall(t, 200, "PATCH", a.url("/openapi/v1/regions/"+r.RegionID), processAdmin, `{"desc":"patched"}`, "If-Match", got.header.Get("ETag"))
			if again := mustCall(t, 200, "GET", b.url("/openapi/v1/regions/"+r.RegionID), processAdmin, ""); again.header.Get("ETag") != patched.header.Get("ETag") {
				t.Fatalf("round %d: B reads ETag %s after A's write answered %s", i, again.header.Get("ETag"), patched.header.Get("ETag"))
			}
		}
	})

	t.Run("CachedListOnBWithinStaleness", func(t *testing.T) {
		// B's list is served from its cache: a write acknowledged by A is in it once the
		// staleness bound has passed, whatever B's cache held.
		for i := 0; i < 10; i++ {
			mustCall(t, 200, "GET", b.url("/openapi/v1/regions"), processAdmin, "") // warm B's cache
			name := fmt.Sprint("cache-", i)
			mustCall(t, 201, "POST", a.url("/openapi/v1/regions"), processAdmin, regionBody(name))
			time.Sleep(staleness)
			list := mustCall(t, 200, "GET", b.url("/openapi/v1/regions"), processAdmin, "")
			if !bytes.Contains(list.body, []byte(`"`+name+`"`)) {
				t.Fatalf("round %d: region %s, created through A, is not in B's list %v after the staleness bound", i, name, staleness)
			}
		}
	})

	t.Run("IfMatchOneWinnerAcrossNodes", func(t *testing.T) {
		r := decode[struct {
			RegionID string `json:"region_id"`
		}](t, mustCall(t, 201, "POST", a.url("/openapi/v1/regions"), processAdmin, regionBody("contended")))
		for round := 0; round < 10; round++ {
			etag := mustCall(t, 200, "GET", a.url("/openapi/v1/regions/"+r.RegionID), processAdmin, "").header.Get("ETag")
			statuses := make([]int, 16)
			var wg sync.WaitGroup
			for i := range statuses {
				wg.Add(1)
				go func() {
					defer wg.Done()
					via := []*replica{a, b}[i%2]
					rep, err := call("PATCH", via.url("/openapi/v1/regions/"+r.RegionID), processAdmin, fmt.Sprintf(`{"desc":"round %d writer %d"}`, round, i), "If-Match", etag)
					if err != nil {
						t.Error(err)
						return
					}
					statuses[i] = rep.status
					if rep.status != 200 && rep.status != 412 {
						t.Errorf("round %d writer %d: %d %s", round, i, rep.status, rep.body)
					}
				}()
			}
			wg.Wait()
			if n := len(slices.DeleteFunc(slices.Clone(statuses), func(s int) bool { return s != 200 })); n != 1 {
				t.Fatalf("round %d: %d writers got 200 (statuses %v), want exactly 1", round, n, statuses)
			}
		}
	})

	t.Run("AuditPagesNewestFirst", func(t *testing.T) {
		seen := map[int64]bool{}
		var last time.Time
		next := b.url("/openapi/v1/audit?limit=7")
		for pages := 0; next != ""; pages++ {
			page := mustCall(t, 200, "GET", next, processAdmin, "")
			for _, e := range decode[[]struct {
				ID   int64
				Time time.Time
			}](t, page) {
				if seen[e.ID] || !last.IsZero() && e.Time.After(last) {
					t.Fatalf("page %d: event %d at %s repeated or newer than the one before (%s)", pages, e.ID, e.Time, last)
				}
				seen[e.ID], last = true, e.Time
			}
			next = ""
			if m := regexp.MustCompile(`<([^>]+)>; rel="next"`).FindStringSubmatch(page.header.Get("Link")); m != nil {
				next = "http://" + b.addr + m[1]
			}
		}
		if len(seen) < 60 {
			t.Fatalf("paged through %d audit events, want all of them (60 or more)", len(seen))
		}
	})
}

// TestGaleraNodeNotReady: a node that refuses statements (1047, as while it joins, or when cut off
// from the cluster: here told to with wsrep_reject_queries) makes its replica answer 503, never
// 500, until it takes statements again, without a restart; a replica with a failover list moves
// its connections to the other nodes.
func TestGaleraNodeNotReady(t *testing.T) {
	nodes := galeraNodes(t)
	db := galeraDB(t)
	env := []string{"REGIOND_ADMIN_TOKEN=" + processAdmin}
	only3 := mustLaunch(t, env, "--rate-limit=0", "--database", tcpDSN(nodes[2], db))
	spread := mustLaunch(t, env, "--rate-limit=0", "--db-max-open-conns=6", "--database", failoverDSN(nodes, db))
	node3 := nodeSQL(t, nodes[2])
	reject := func(v string) {
		t.Helper()
		if _, err := node3.Exec("SET GLOBAL wsrep_reject_queries = " + v); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { node3.Exec("SET GLOBAL wsrep_reject_queries = NONE") })
	// Fill the spread replica's pool: connections on every node.
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			call("POST", spread.url("/openapi/v1/regions"), processAdmin, regionBody(fmt.Sprint("warm-", i)))
		}()
	}
	wg.Wait()

	reject("ALL")
	status := func(r *replica, i int) int {
		rep, err := call("POST", r.url("/openapi/v1/regions"), processAdmin, regionBody(fmt.Sprintf("nr-%d-%d", r.cmd.Process.Pid, i)))
		if err != nil {
			t.Fatal(err)
		}
		if rep.status != 201 && rep.status != 503 || rep.status == 503 && rep.header.Get("Retry-After") == "" {
			t.Fatalf("while node 3 rejects queries: %d %s (Retry-After %q)", rep.status, rep.body, rep.header.Get("Retry-After"))
		}
		return rep.status
	}
	for i := 0; i < 5; i++ {
		if s := status(only3, i); s != 503 {
			t.Fatalf("a replica whose only node rejects queries answered %d", s)
		}
	}
	// The spread replica retires each connection to node 3 at its first refusal: at most its
	// pool's worth of 503s, then only 201s.
	failed, ok := 0, 0
	for i := 0; ok < 20; i++ {
		if status(spread, i) == 503 {
			if failed++; failed > 6 {
				t.Fatalf("%d requests failed through a failover list while one node of three rejects queries", failed)
			}
			ok = 0
		} else {
			ok++
		}
	}
	reject("NONE")
	deadline := time.Now().Add(30 * time.Second)
	for i := 100; status(only3, i) != 201; i++ {
		if time.Now().After(deadline) {
			t.Fatal("the replica did not recover within 30s once its node took statements again")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestGaleraNodeLoss kills, under a bounded write load, a node a replica (with a failover list)
// is connected to: no acknowledged write is lost, no request gets a 500, the replica answers again
// within seconds without a restart, and the node rejoins (IST) with nothing asked of regiond.
func TestGaleraNodeLoss(t *testing.T) {
	nodes := galeraNodes(t)
	script := os.Getenv("GALERA_SH")
	if script == "" {
		script = "../../scripts/galera.sh"
	}
	db := galeraDB(t)
	env := []string{"REGIOND_ADMIN_TOKEN=" + processAdmin}
	r := mustLaunch(t, env, "--rate-limit=0", "--db-max-open-conns=6", "--database", failoverDSN(nodes, db))
	galera := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(script, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", script, args, err, out)
		}
		return string(out)
	}
	t.Cleanup(func() { exec.Command(script, "start").Run() }) // whatever happens, leave 3 nodes

	type outcome struct {
		name   string
		status int
		err    error
		at     time.Duration
	}
	var mu sync.Mutex
	var outcomes []outcome
	start := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond): // a bounded load: at most 50 writes/s per writer
				}
				name := fmt.Sprintf("loss-%d-%d", w, i)
				rep, err := call("POST", r.url("/openapi/v1/regions"), processAdmin, regionBody(name))
				mu.Lock()
				outcomes = append(outcomes, outcome{name: name, status: rep.status, err: err, at: time.Since(start)})
				mu.Unlock()
			}
		}()
	}
	waitWrites := func(n int) {
		deadline := time.Now().Add(60 * time.Second)
		for {
			mu.Lock()
			c := len(outcomes)
			mu.Unlock()
			if c >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("fewer than %d writes answered within 60s", n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitWrites(100)
	var conns int
	if err := nodeSQL(t, nodes[0]).QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ?", db).Scan(&conns); err != nil || conns == 0 {
		t.Fatalf("the replica has no connection to node 1 to lose (%d, %v)", conns, err)
	}
	killedAt := time.Since(start)
	galera("kill", "1")
	mu.Lock()
	before := len(outcomes)
	mu.Unlock()
	waitWrites(before + 200)
	restart := galera("restart", "1")
	rejoinedAt := time.Since(start)
	mu.Lock()
	afterRejoin := len(outcomes)
	mu.Unlock()
	waitWrites(afterRejoin + 100)
	close(stop)
	wg.Wait()

	acked, failed := map[string]bool{}, map[string]int{}
	// outage: the longest time after the kill without a successful write.
	var lastOK, outage time.Duration
	for _, o := range outcomes {
		switch {
		case o.err != nil:
			failed[o.err.Error()]++
		case o.status == 201:
			acked[o.name] = true
			if o.at > killedAt && o.at-max(lastOK, killedAt) > outage {
				outage = o.at - max(lastOK, killedAt)
			}
			lastOK = o.at
		default:
			failed[fmt.Sprint(o.status)]++
		}
	}
	afterRejoinOK := 0
	for _, o := range outcomes[afterRejoin:] {
		if o.status == 201 {
			afterRejoinOK++
		}
	}
	t.Logf("%d writes acknowledged, failed: %v; node 1 killed at %v with %d of the replica's connections; "+
		"longest time after it without a successful write %v; node 1 rejoined at %v (%s); %d of %d writes after it succeeded",
		len(acked), failed, killedAt.Round(time.Millisecond), conns, outage.Round(time.Millisecond),
		rejoinedAt.Round(time.Millisecond), strings.TrimSpace(restart[strings.LastIndex(strings.TrimSpace(restart), "\n")+1:]),
		afterRejoinOK, len(outcomes)-afterRejoin)
	if failed["500"] > 0 {
		t.Errorf("%d writes got 500", failed["500"])
	}
	if outage > 30*time.Second {
		t.Errorf("the replica wrote nothing for %v after the node was killed; want it to answer again within 30s", outage)
	}
	if afterRejoinOK != len(outcomes)-afterRejoin {
		t.Errorf("after node 1 rejoined, %d of %d writes failed", len(outcomes)-afterRejoin-afterRejoinOK, len(outcomes)-afterRejoin)
	}
	// Every acknowledged write is on every node, the rejoined one included.
	for i, n := range nodes {
		rows, err := nodeSQL(t, n).Query("SELECT region_name FROM " + db + ".region_info")
		if err != nil {
			t.Fatal(err)
		}
		stored := map[string]bool{}
		for rows.Next() {
			var name string
			rows.Scan(&name)
			stored[name] = true
		}
		rows.Close()
		lost := 0
		for name := range acked {
			if !stored[name] {
				lost++
			}
		}
		if lost > 0 {
			t.Errorf("node %d: %d of %d acknowledged writes are missing", i+1, lost, len(acked))
		}
	}
	if strings.Contains(restart, "SST") {
		t.Logf("node 1 rejoined through a full state transfer (SST), not IST:\n%s", restart)
	}
}

// TestGaleraStartChecks: what cannot hold on the cluster is said at start, naming the setting: a
// warning when a guarantee weakens (reads that may miss other nodes' writes), an error, and no
// start, when regiond's writes might not be replicated.
func TestGaleraStartChecks(t *testing.T) {
	nodes := galeraNodes(t)
	db := galeraDB(t)
	env := []string{"REGIOND_ADMIN_TOKEN=" + processAdmin}
	r := mustLaunch(t, env, "--database", tcpDSN(nodes[0], db)+"?wsrep_sync_wait=0")
	if log := r.stderr.String(); !strings.Contains(log, `"level":"WARN"`) || !strings.Contains(log, "wsrep_sync_wait=0 (set in the database DSN)") {
		t.Fatalf("no warning naming wsrep_sync_wait at start:\n%s", log)
	}
	_, err := launchReplica(t, env, "--database", tcpDSN(nodes[1], db)+"?binlog_format=%27STATEMENT%27")
	if err == nil || !strings.Contains(err.Error(), "binlog_format=STATEMENT") || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("binlog_format=STATEMENT: %v; want regiond to refuse to start, naming binlog_format", err)
	}
}
