package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/testsupport/faultproxy"
	"github.com/regiond/regiond/internal/token"
)

// largeList is how many regions the stream tests seed: about 1 KiB each, so that the list (some
// 11 MB) is far larger than the socket buffers between a server and a client that stops reading.
const largeList = 10000

// seedLarge inserts n regions of about 1 KiB into an enterprise with multi-row INSERTs (creating
// them one by one through the API would take minutes), bumping its generation as writes do, and
// returns the store for making tokens.
func seedLarge(t *testing.T, dsn, enterprise string, n int) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn, store.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db, _ := st.DBs()
	quote, upsert := "`", "INSERT INTO regiond_generation (enterprise_id, generation) VALUES (?, 1) ON DUPLICATE KEY UPDATE generation = generation + 1"
	if st.Backend() == store.SQLite {
		quote, upsert = `"`, "INSERT INTO regiond_generation (enterprise_id, generation) VALUES (?, 1) ON CONFLICT (enterprise_id) DO UPDATE SET generation = generation + 1"
	}
	head := "INSERT INTO region_info (region_id, region_name, region_alias, region_type, url, wsurl, httpdomain, tcpdomain, status, create_time, " +
		quote + "desc" + quote + ", scope, enterprise_id, version, update_time) VALUES "
	long := strings.Repeat("x", 190)
	now := time.Now().UTC().Truncate(time.Microsecond)
	for done := 0; done < n; {
		batch := min(500, n-done)
		var q strings.Builder
		q.WriteString(head)
		var args []any
		for i := range batch {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
			k := done + i
			name := fmt.Sprintf("big-%06d", k)
			args = append(args, fmt.Sprintf("00000000-0000-4000-8000-%012d", k), name, "Big "+strconv.Itoa(k), "[]",
				"https://"+name+"."+long+".example.com", "wss://"+name+"."+long+".example.com", "apps-"+name+"."+long+".example.com",
				"10.0.0.1", []string{"0", "1", "2", "3"}[k%4], now, long, "private", enterprise, 1, now)
		}
		if _, err := db.ExecContext(ctx, q.String(), args...); err != nil {
			t.Fatal(err)
		}
		done += batch
	}
	if _, err := db.ExecContext(ctx, upsert, enterprise); err != nil {
		t.Fatal(err)
	}
	return st
}

func storeToken(t *testing.T, st *store.Store, enterprise string, scopes ...token.Scope) string {
	t.Helper()
	secret, err := createToken(context.Background(), st, enterprise, scopes, "stream test", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// smallReceiveBuffer dials with a 4 KiB receive buffer: a client that stops reading holds the
// server's writes back almost at once.
var smallReceiveBuffer = net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) }); err != nil {
		return err
	}
	return serr
}}

// slowRequest sends a GET on a raw connection with a small receive buffer and reads the status
// line and headers only: a client that then never reads its response. The connection is closed
// when the test ends.
func slowRequest(t *testing.T, addr, tok, path string) (net.Conn, *http.Response, error) {
	t.Helper()
	conn, err := smallReceiveBuffer.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
	req.Header.Set("Authorization", tok)
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 16), req) // takes at most 16 bytes of the body
	conn.SetReadDeadline(time.Time{})
	return conn, resp, err
}

// checkRefusal checks a refused stream: the status, Retry-After and a problem+json body.
func checkRefusal(t *testing.T, what string, resp *http.Response, status int) {
	t.Helper()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var p struct{ Status, Code int }
	if resp.StatusCode != status || resp.Header.Get("Retry-After") == "" ||
		resp.Header.Get("Content-Type") != "application/problem+json" || json.Unmarshal(body, &p) != nil || p.Status != status || p.Code != status {
		t.Errorf("%s: %d (Retry-After %q, %s) %.300s; want a %d problem with Retry-After", what, resp.StatusCode,
			resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"), body, status)
	}
}

// get makes one request and returns the status and body; status 0 and the error as the body
// when there is no whole response.
func get(client *http.Client, url, tok string) (int, []byte, http.Header) {
	req, _ := http.NewRequest("GET", url, nil)
	if tok != "" {
		req.Header.Set("Authorization", tok)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, []byte(err.Error()), http.Header{}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, []byte("reading the body: " + err.Error()), resp.Header
	}
	return resp.StatusCode, body, resp.Header
}

// requestLines returns the access-log lines of a process for a route.
func requestLines(p *process, route string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		var ev map[string]any
		if json.Unmarshal([]byte(line), &ev) == nil && ev["msg"] == "request" && ev["route"] == route {
			out = append(out, ev)
		}
	}
	return out
}

func countAborted(lines []map[string]any) int {
	n := 0
	for _, ev := range lines {
		if ev["aborted"] == true {
			n++
		}
	}
	return n
}

// metric reads one sample of /metrics (0 when absent).
func metric(p *process, series string) float64 {
	_, body, _ := get(http.DefaultClient, p.url("/metrics"), "")
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// waitFor polls cond until it holds, for at most 30s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Errorf("%s: not within 30s", what)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSlowReadersHoldNoDatabaseConnection opens 22 raw connections to a real `regiond serve`
// process that ask for an enterprise's large (streamed) list and never read it. The streams
// within the bounds (2 per token, 16 per replica) hang in their writes without holding a database
// connection: meanwhile /readyz answers 200 and another enterprise's list and detail answer 200 —
// before the slow readers are released. The streams beyond the bounds get 429 (per token) and 503
// (per replica) problems with Retry-After, and once the slow readers go away, every aborted
// stream has its access-log line and the replica streams again.
func TestSlowReadersHoldNoDatabaseConnection(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		st := seedLarge(t, dsn, "default", largeList)
		readers := make([]string, 10)
		for i := range readers {
			readers[i] = storeToken(t, st, "default", token.RegionsRead)
		}
		other := storeToken(t, st, "other", token.RegionsRead, token.RegionsWrite)
		st.Close()
		// A 1 MiB list cache keeps lists up to 256 KiB: this list is streamed.
		p := startProcess(t, "--database", dsn, "--list-cache-bytes", "1048576", "--rate-limit", "0")
		client := &http.Client{Timeout: 30 * time.Second}

		req, _ := http.NewRequest("POST", p.url("/openapi/v1/regions"), strings.NewReader(`{"region_name":"other-1","region_alias":"O","url":"https://o.example.com"}`))
		req.Header.Set("Authorization", other)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != 201 {
			t.Fatalf("creating the other enterprise's region: %v %v", resp, err)
		}
		var created struct {
			RegionID string `json:"region_id"`
		}
		json.NewDecoder(resp.Body).Decode(&created)
		resp.Body.Close()

		const list = "/openapi/v1/regions"
		// Token 0: two streams, and a third is one too many for a token. Tokens 1-7: two each, which
		// fills the replica's 16. Beyond: a token at its own bound still gets 429; others get 503.
		type attempt struct {
			token int
			want  int
		}
		attempts := []attempt{{0, 200}, {0, 200}, {0, http.StatusTooManyRequests}}
		for k := 1; k <= 7; k++ {
			attempts = append(attempts, attempt{k, 200}, attempt{k, 200})
		}
		attempts = append(attempts, attempt{1, http.StatusTooManyRequests}, attempt{2, http.StatusTooManyRequests},
			attempt{8, http.StatusServiceUnavailable}, attempt{8, http.StatusServiceUnavailable}, attempt{9, http.StatusServiceUnavailable})
		var streaming []net.Conn
		for i, a := range attempts {
			conn, resp, err := slowRequest(t, p.addr, readers[a.token], list)
			if err != nil {
				t.Errorf("request %d of %d: no response: %v", i+1, len(attempts), err)
				break
			}
			if a.want == 200 {
				if resp.StatusCode != 200 {
					t.Errorf("request %d: %d, want 200", i+1, resp.StatusCode)
				}
				streaming = append(streaming, conn)
				continue
			}
			checkRefusal(t, fmt.Sprintf("request %d, beyond the bounds (%d streaming)", i+1, len(streaming)), resp, a.want)
		}

		// While 16 slow readers hold their streams, the replica serves everyone else.
		if status, body, _ := get(client, p.url("/readyz"), ""); status != 200 {
			t.Errorf("/readyz while slow readers hang: %d %s", status, body)
		}
		if status, body, _ := get(client, p.url(list), other); status != 200 || !strings.Contains(string(body), "other-1") {
			t.Errorf("another enterprise's list while slow readers hang: %d %s", status, body)
		}
		if status, body, _ := get(client, p.url(list+"/"+created.RegionID), other); status != 200 {
			t.Errorf("another enterprise's region while slow readers hang: %d %s", status, body)
		}
		if status, body, _ := get(client, p.url(list+"?status=1&q=big-00000"), readers[9]); status != 200 || !strings.Contains(string(body), "big-000001") {
			t.Errorf("a small filtered list while slow readers hang: %d %.200s", status, body)
		}
		// ... and the slow readers were still holding their streams all along.
		if _, resp, err := slowRequest(t, p.addr, readers[9], list); err != nil {
			t.Errorf("a stream after the checks: %v", err)
		} else {
			checkRefusal(t, "a stream after the checks", resp, http.StatusServiceUnavailable)
		}
		if t.Failed() {
			return
		}

		// The slow readers go away: every stream they held is aborted, logged, and released.
		for _, c := range streaming {
			c.Close()
		}
		waitFor(t, "an access-log line for every aborted stream", func() bool { return countAborted(requestLines(p, list)) >= len(streaming) })
		waitFor(t, "a whole list once the slow readers are gone", func() bool {
			status, body, h := get(client, p.url(list), readers[0])
			var items []json.RawMessage
			return status == 200 && json.Unmarshal(body, &items) == nil && len(items) == largeList && h.Get("X-Total-Count") == strconv.Itoa(largeList)
		})
	})
}

// TestListsHonourTheQueryDeadlineDuringAHang puts a fault proxy between a real `regiond serve`
// process (--db-timeout 1s) and MariaDB, and makes the database hang. A large list that has begun
// streaming is aborted — the client sees a broken response, never a short list that looks whole —
// and the abort has its access-log line and request metric; a large list and a filtered list
// asked for during the hang get a 503 problem. All of it well within the driver's 30s read
// timeout: the query deadline applies to every chunk.
func TestListsHonourTheQueryDeadlineDuringAHang(t *testing.T) {
	direct := dbtest.MySQL(t)
	st := seedLarge(t, direct, "default", largeList)
	reader := storeToken(t, st, "default", token.RegionsRead)
	st.Close()
	cfg, err := mysql.ParseDSN(strings.TrimPrefix(direct, "mysql://"))
	if err != nil {
		t.Fatal(err)
	}
	proxy := faultproxy.Start(t, cfg.Addr)
	cfg.Addr = proxy.Addr()
	// A long --cache-staleness keeps the token known through the hang: the requests reach the lists.
	p := startProcess(t, "--database", "mysql://"+cfg.FormatDSN(), "--db-timeout", "1s", "--list-cache-bytes", "1048576", "--rate-limit", "0",
		"--cache-staleness", "5m")
	const list = "/openapi/v1/regions"
	const bound = 10 * time.Second // --db-timeout is 1s; the driver's read timeout 30s
	okSeries := `regiond_http_requests_total{method="GET",route="` + list + `",status="200"}`
	okBefore := metric(p, okSeries)

	// A hang once the list has begun: the client stops reading after the first bytes, the database
	// hangs, the client reads on.
	client := &http.Client{Transport: &http.Transport{DialContext: smallReceiveBuffer.DialContext}, Timeout: time.Minute}
	req, _ := http.NewRequest("GET", p.url(list), nil)
	req.Header.Set("Authorization", reader)
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the large list: %v %v", resp, err)
	}
	first := make([]byte, 64<<10)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	proxy.Set(faultproxy.Hang)
	hung := time.Now()
	rest, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(hung)
	var items []json.RawMessage
	if err == nil || json.Unmarshal(append(first, rest...), &items) == nil {
		t.Errorf("a list cut by a database hang was answered whole-looking (%d bytes, read error %v)", len(first)+len(rest), err)
	}
	t.Logf("the stream was aborted %v after the database hung, %d bytes in", took, len(first)+len(rest))
	if took > bound {
		t.Errorf("the stream was aborted %v after the database hung (--db-timeout 1s)", took)
	}
	waitFor(t, "the aborted stream's access-log line", func() bool { return countAborted(requestLines(p, list)) == 1 })
	if got := metric(p, okSeries); got != okBefore+1 {
		t.Errorf("the aborted stream was not counted in %s: %v before, %v after", okSeries, okBefore, got)
	}
	if got := metric(p, `regiond_errors_total{kind="aborted"}`); got != 1 {
		t.Errorf(`regiond_errors_total{kind="aborted"} = %v, want 1`, got)
	}

	// A hang before the first byte: a 503 problem.
	for _, path := range []string{list, list + "?status=1", list + "?q=big-0001"} {
		start := time.Now()
		status, body, h := get(&http.Client{Timeout: time.Minute}, p.url(path), reader)
		t.Logf("%s during the hang: %d after %v", path, status, time.Since(start))
		if took := time.Since(start); status != 503 || h.Get("Retry-After") == "" || h.Get("Content-Type") != "application/problem+json" || took > bound {
			t.Errorf("%s during a hang: %d after %v (Retry-After %q) %s", path, status, took, h.Get("Retry-After"), body)
		}
	}

	proxy.Set(faultproxy.Pass)
	waitFor(t, "a whole list after the hang", func() bool {
		status, body, _ := get(http.DefaultClient, p.url(list), reader)
		return status == 200 && json.Unmarshal(body, &items) == nil && len(items) == largeList
	})
}
