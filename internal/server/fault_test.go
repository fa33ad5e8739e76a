package server_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/server"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/testsupport/faultproxy"
)

// mysqlBehindProxy makes a fresh database with its own user and password, reachable through a
// fault proxy, and returns the DSN through the proxy.
func mysqlBehindProxy(t *testing.T) (dsn, password string, proxy *faultproxy.Proxy) {
	t.Helper()
	direct := dbtest.MySQL(t)
	cfg, err := mysql.ParseDSN(strings.TrimPrefix(direct, "mysql://"))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	user, password := "rgf_"+cfg.DBName[len(cfg.DBName)-8:], "pw-"+cfg.DBName[len(cfg.DBName)-12:]
	for _, q := range []string{
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", user, password),
		fmt.Sprintf("GRANT ALL ON %s.* TO '%s'@'%%'", cfg.DBName, user),
	} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if a, err := sql.Open("mysql", cfg.FormatDSN()); err == nil {
			a.Exec(fmt.Sprintf("DROP USER '%s'@'%%'", user))
			a.Close()
		}
	})
	proxy = faultproxy.Start(t, cfg.Addr)
	return fmt.Sprintf("mysql://%s:%s@tcp(%s)/%s", user, password, proxy.Addr(), cfg.DBName), password, proxy
}

// TestDatabaseOutage keeps a steady load of writes and reads on a server while its MariaDB goes
// away (connections cut and refused), comes back, hangs (connections accepted, never answered),
// and comes back again. Every response is a success or a 503 with Retry-After — never a hang, a
// panic or a 500 — readiness follows the database, no acknowledged write is lost, and the service
// recovers by itself.
func TestDatabaseOutage(t *testing.T) {
	dsn, password, proxy := mysqlBehindProxy(t)
	e := apitest.Start(t, dsn, apitest.Options{
		Store:  func(o *store.Options) { o.QueryTimeout = 500 * time.Millisecond },
		Server: func(c *server.Config) { c.CacheStaleness = 200 * time.Millisecond; c.RateLimit = 0 },
	})
	e.Secret(password)

	var (
		mu       sync.Mutex
		statuses = map[string]map[int]int{} // phase -> status -> count
		acked    []string                   // ids of creates answered 201
		slowest  time.Duration
		phase    = "before"
	)
	record := func(status int, took time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if statuses[phase] == nil {
			statuses[phase] = map[int]int{}
		}
		statuses[phase][status]++
		slowest = max(slowest, took)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := e.HTTPClient()
	do := func(method, path, ct string, body string) (int, []byte, http.Header) {
		req, _ := http.NewRequest(method, e.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", e.Admin)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", method, path, err)
			return 0, nil, nil
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		record(resp.StatusCode, time.Since(start))
		return resp.StatusCode, []byte(b.String()), resp.Header
	}
	check := func(status int, body []byte, h http.Header) {
		switch status {
		case 200, 201:
		case 503:
			if h.Get("Retry-After") == "" || !strings.Contains(string(body), "unavailable") {
				t.Errorf("a 503 without Retry-After or detail: %s", body)
			}
		default:
			t.Errorf("status %d during the outage test: %s", status, body)
		}
	}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				status, body, h := do("POST", "/openapi/v1/regions", "application/json",
					fmt.Sprintf(`{"region_name":"out-%d-%d","region_alias":"A","url":"https://x.example.com"}`, w, i))
				check(status, body, h)
				if status == 201 {
					var r api.RegionInfoResp
					json.Unmarshal(body, &r)
					mu.Lock()
					acked = append(acked, r.RegionId)
					mu.Unlock()
				}
				status, body, h = do("GET", "/openapi/v1/regions", "", "")
				check(status, body, h)
				time.Sleep(5 * time.Millisecond)
			}
		}(w)
	}
	readiness := func() int {
		resp, _ := e.Do("GET", "/readyz", "", "", nil)
		return resp.StatusCode
	}
	setPhase := func(p string) {
		mu.Lock()
		phase = p
		mu.Unlock()
	}
	time.Sleep(time.Second)
	for _, fault := range []struct {
		name string
		mode faultproxy.Mode
	}{{"down", faultproxy.Down}, {"hang", faultproxy.Hang}} {
		setPhase(fault.name)
		proxy.Set(fault.mode)
		time.Sleep(1500 * time.Millisecond)
		if r := readiness(); r != 503 {
			t.Errorf("readiness during %s: %d, want 503", fault.name, r)
		}
		setPhase("after " + fault.name)
		proxy.Set(faultproxy.Pass)
		deadline := time.Now().Add(10 * time.Second)
		for readiness() != 200 {
			if time.Now().After(deadline) {
				t.Fatalf("the service did not recover within 10s after %s", fault.name)
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(time.Second)
	}
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("statuses by phase: %v; slowest response %v; %d writes acknowledged", statuses, slowest, len(acked))
	for _, p := range []string{"down", "hang"} {
		if statuses[p][503] == 0 {
			t.Errorf("no 503 during %s: the fault was not felt", p)
		}
	}
	for _, p := range []string{"after down", "after hang"} {
		if statuses[p][201] == 0 {
			t.Errorf("no write succeeded %s: no recovery", p)
		}
	}
	if slowest > 5*time.Second {
		t.Errorf("a request took %v: the deadlines do not hold", slowest)
	}
	// Every acknowledged write is there.
	for _, id := range acked {
		if resp, body := e.Do("GET", "/openapi/v1/regions/"+id, e.Admin, "", nil); resp.StatusCode != 200 {
			t.Fatalf("acknowledged region %s is lost: %d %s", id, resp.StatusCode, body)
		}
	}
	if strings.Contains(e.Logs.String(), password) {
		t.Fatal("the database password reached the log")
	}
}
