package app

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/token"
)

// clientFrom is a keep-alive HTTP client whose connections come from a loopback address of its
// own (127.0.0.2, ...): to the server, another client address.
func clientFrom(ip string) *http.Client {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 16,
	}}
}

var notFoundLookupsMetric = regexp.MustCompile(`(?m)^regiond_token_lookups_total\{result="not_found"\} (\d+)$`)

// TestBadTokenFlood floods a real `regiond serve`, over real sockets, with a few thousand
// requests carrying bad tokens (one repeated, and fresh random ones) from one client address.
// With the default --auth-fail-rate and --auth-fail-burst, the flood is answered 401 and then 429
// with Retry-After, and causes at most the burst plus the rate's worth of database lookups.
// Meanwhile a valid token's requests from that same address all succeed, and so does a token the
// server has never seen, from another address.
func TestBadTokenFlood(t *testing.T) {
	p := startProcess(t, "--database", dbtest.SQLite(t), "--rate-limit", "0")
	local := clientFrom("127.0.0.1")
	do := func(c *http.Client, method, path, tok, body string) (int, http.Header, []byte) {
		req, _ := http.NewRequest(method, p.url(path), strings.NewReader(body))
		req.Header.Set("Authorization", tok)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", method, path, err)
			return 0, nil, nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	// A token for the other address, made before the flood and never used on this server.
	status, _, body := do(local, "POST", "/openapi/v1/tokens", processAdmin, `{"scopes":["regions:read"],"note":"other address"}`)
	var created struct{ Token string }
	if status != 201 || json.Unmarshal(body, &created) != nil || created.Token == "" {
		t.Fatalf("creating a token: %d %s", status, body)
	}

	const floodSize, workers = 3000, 8
	repeated := token.NewSecret()
	var sent atomic.Int64
	var mu sync.Mutex
	statuses := map[int]int{}
	var legitimate, legitimateOK atomic.Int64
	flooding := make(chan struct{})
	var floodWG, legitWG sync.WaitGroup
	legitWG.Add(1)
	go func() { // the legitimate client, on the flooding address
		defer legitWG.Done()
		for {
			select {
			case <-flooding:
				return
			default:
			}
			status, _, body := do(local, "GET", "/openapi/v1/regions", processAdmin, "")
			legitimate.Add(1)
			if status == 200 {
				legitimateOK.Add(1)
			} else {
				t.Errorf("a valid token during the flood: %d %s", status, body)
			}
		}
	}()
	start := time.Now()
	for w := 0; w < workers; w++ {
		floodWG.Add(1)
		go func() {
			defer floodWG.Done()
			c := clientFrom("127.0.0.1")
			for sent.Add(1) <= floodSize {
				tok := repeated
				if sent.Load()%2 == 0 {
					tok = token.NewSecret()
				}
				status, h, body := do(c, "GET", "/openapi/v1/regions", tok, "")
				switch {
				case status == 401:
				case status == 429 && h.Get("Retry-After") != "" && h.Get("Content-Type") == "application/problem+json":
				default:
					t.Errorf("a bad token: %d %v %s", status, h, body)
				}
				mu.Lock()
				statuses[status]++
				mu.Unlock()
			}
		}()
	}
	// While the flood runs, a token this server has not seen, from another address.
	for sent.Load() < floodSize/2 {
		time.Sleep(time.Millisecond)
	}
	if status, _, body := do(clientFrom("127.0.0.2"), "GET", "/openapi/v1/regions", created.Token, ""); status != 200 {
		t.Errorf("a new token from another address during the flood: %d %s", status, body)
	}
	floodWG.Wait()
	elapsed := time.Since(start)
	close(flooding)
	legitWG.Wait()

	_, _, metrics := do(local, "GET", "/metrics", "", "")
	m := notFoundLookupsMetric.FindSubmatch(metrics)
	if m == nil {
		t.Fatalf("no regiond_token_lookups_total in /metrics")
	}
	lookups, _ := strconv.Atoi(string(m[1]))
	// The default failure budget: a burst of 20, then 10 a second.
	bound := 20 + int(10*elapsed.Seconds()) + 1
	t.Logf("%d bad-token requests in %v: %v; %d database lookups found nothing (bound %d); %d of %d legitimate requests succeeded",
		floodSize, elapsed.Round(time.Millisecond), statuses, lookups, bound, legitimateOK.Load(), legitimate.Load())
	if lookups > bound {
		t.Errorf("the flood made %d database lookups; want at most %d", lookups, bound)
	}
	if statuses[429] == 0 {
		t.Error("the flood was never answered 429")
	}
	if legitimateOK.Load() == 0 || legitimateOK.Load() != legitimate.Load() {
		t.Errorf("legitimate requests: %d of %d succeeded", legitimateOK.Load(), legitimate.Load())
	}
	if strings.Contains(p.stderr.String(), repeated) {
		t.Error("a token value reached the log")
	}
}
