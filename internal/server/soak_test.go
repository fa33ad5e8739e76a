package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/server"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
)

// soakDuration is REGIOND_SOAK_DURATION (make soak sets a minute), a few seconds by default.
func soakDuration(t *testing.T) time.Duration {
	if s := os.Getenv("REGIOND_SOAK_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("REGIOND_SOAK_DURATION: %v", err)
		}
		return d
	}
	return 3 * time.Second
}

// TestSoak runs mixed reads and writes at full speed for a bounded time: no error, and afterwards
// no goroutine left behind and no heap growth beyond the bounded caches.
func TestSoak(t *testing.T) {
	duration := soakDuration(t)
	dbtest.EachSerial(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{Server: func(c *server.Config) { c.RateLimit = 0 }})
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
		do := func(method, path, ct, body string, headers ...string) (*http.Response, []byte, error) {
			req, _ := http.NewRequest(method, e.URL+path, strings.NewReader(body))
			req.Header.Set("Authorization", e.Admin)
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			for i := 0; i+1 < len(headers); i += 2 {
				req.Header.Set(headers[i], headers[i+1])
			}
			resp, err := client.Do(req)
			if err != nil {
				return nil, nil, err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			return resp, b, err
		}
		// settle closes the client's connections and waits (up to 3s) for the goroutine count to come
		// down to target (or, with target < 0, to stop falling), then measures.
		settle := func(target int) (int, uint64) {
			client.CloseIdleConnections()
			for end, last := time.Now().Add(3*time.Second), -1; time.Now().Before(end); {
				n := runtime.NumGoroutine()
				if n <= target || target < 0 && n == last {
					break
				}
				last = n
				time.Sleep(50 * time.Millisecond)
			}
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			return runtime.NumGoroutine(), ms.HeapInuse
		}
		var ops, errors atomic.Int64
		var firstErr sync.Once
		fail := func(format string, args ...any) {
			errors.Add(1)
			firstErr.Do(func() { t.Errorf(format, args...) })
		}
		run := func(d time.Duration) {
			deadline := time.Now().Add(d)
			var wg sync.WaitGroup
			for w := 0; w < 6; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := 0; time.Now().Before(deadline); i++ {
						name := fmt.Sprintf("soak-%d-%d-%d", w, i, time.Now().UnixNano())
						resp, body, err := do("POST", "/openapi/v1/regions", "application/json", `{"region_name":"`+name+`","region_alias":"A","url":"https://x.example.com"}`)
						if err != nil || resp.StatusCode != 201 {
							fail("create: %v %v %s", err, resp, body)
							continue
						}
						var r api.RegionInfoResp
						json.Unmarshal(body, &r)
						etag := resp.Header.Get("ETag")
						steps := []struct {
							method, path, ct, body string
							want                   int
							headers                []string
						}{
							{"GET", "/openapi/v1/regions/" + r.RegionId, "", "", 200, nil},
							{"PATCH", "/openapi/v1/regions/" + r.RegionId, "application/merge-patch+json", `{"status":"3"}`, 200, []string{"If-Match", etag}},
							{"GET", "/openapi/v1/regions", "", "", 200, nil},
							{"GET", "/openapi/v1/regions?limit=20&status=3", "", "", 200, nil},
							{"GET", "/openapi/v1/regions?q=soak-" + fmt.Sprint(w), "", "", 200, nil},
							{"GET", "/openapi/v1/regions/" + r.RegionId, "", "", 200, nil},
						}
						if i%2 == 0 {
							steps = append(steps, struct {
								method, path, ct, body string
								want                   int
								headers                []string
							}{"DELETE", "/openapi/v1/regions/" + r.RegionId, "", "", 204, nil})
						}
						for _, s := range steps {
							resp, body, err := do(s.method, s.path, s.ct, s.body, s.headers...)
							if err != nil || resp.StatusCode != s.want {
								fail("%s %s: %v %v %s", s.method, s.path, err, resp, body)
							}
							ops.Add(1)
						}
					}
				}(w)
			}
			wg.Wait()
		}
		// A warm-up at full load first, so that connection pools and caches reach their working
		// size; what grows after it is a leak.
		run(duration / 5)
		goroutinesBefore, heapBefore := settle(-1)
		run(duration - duration/5)
		goroutinesAfter, heapAfter := settle(goroutinesBefore + 2)
		t.Logf("%d requests in %v, %d errors; goroutines %d -> %d; heap in use %.1f -> %.1f MiB",
			ops.Load(), duration, errors.Load(), goroutinesBefore, goroutinesAfter, float64(heapBefore)/(1<<20), float64(heapAfter)/(1<<20))
		if errors.Load() != 0 {
			t.Fatalf("%d errors", errors.Load())
		}
		if goroutinesAfter > goroutinesBefore+2 {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines leaked: %d -> %d\n%s", goroutinesBefore, goroutinesAfter, buf[:runtime.Stack(buf, true)])
		}
		if growth := int64(heapAfter) - int64(heapBefore); growth > 64<<20 {
			t.Fatalf("heap grew by %d MiB", growth>>20)
		}
	})
}
