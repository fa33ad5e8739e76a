package app

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestGaleraBench measures regiond on the Galera cluster, each comparison side by side in one run
// (make bench-galera; skipped unless REGIOND_GALERA_BENCH=1): POSTs per second through one node
// and spread over three; conditional PATCHes of one region by writers on one node and on two;
// reads right after another node's write with and without wsrep_sync_wait. Rounds alternate the
// variants, and medians of the rounds are reported: the machine is shared, numbers of different
// runs do not compare. GALERA_BENCH_DURATION (5s) and GALERA_BENCH_ROUNDS (3) tune it.
func TestGaleraBench(t *testing.T) {
	if os.Getenv("REGIOND_GALERA_BENCH") != "1" {
		t.Skip("REGIOND_GALERA_BENCH is not 1 (make bench-galera runs this)")
	}
	nodes := galeraNodes(t)
	duration, rounds := 5*time.Second, 3
	if v := os.Getenv("GALERA_BENCH_DURATION"); v != "" {
		duration, _ = time.ParseDuration(v)
	}
	if v := os.Getenv("GALERA_BENCH_ROUNDS"); v != "" {
		fmt.Sscan(v, &rounds)
	}
	db := galeraDB(t)
	env := []string{"REGIOND_ADMIN_TOKEN=" + processAdmin}
	launch := func(dsn string) *replica {
		return mustLaunch(t, env, "--rate-limit=0", "--auth-fail-rate=0", "--access-log=false", "--database", dsn)
	}
	node1, node1b, node2 := launch(tcpDSN(nodes[0], db)), launch(tcpDSN(nodes[0], db)), launch(tcpDSN(nodes[1], db))
	spread := launch(failoverDSN(nodes, db))
	node2NoSync := launch(tcpDSN(nodes[1], db) + "?wsrep_sync_wait=0")
	var report strings.Builder
	fmt.Fprintf(&report, "Galera bench: %d rounds of %v per variant, medians of the rounds; load average before: %s\n\n", rounds, duration, loadAverage())

	// Writes: 16 clients POSTing new regions to one replica.
	writes := map[string][]result{}
	for round := 0; round < rounds; round++ {
		variants := []string{"one node", "three nodes"}
		if round%2 == 1 {
			slices.Reverse(variants)
		}
		for _, v := range variants {
			r := map[string]*replica{"one node": node1, "three nodes": spread}[v]
			writes[v] = append(writes[v], drive(duration, []*replica{r}, 16, func(r *replica, w, i int) (reply, time.Duration) {
				start := time.Now()
				rep, _ := call("POST", r.url("/openapi/v1/regions"), processAdmin, regionBody(fmt.Sprintf("b%d-%s-%d-%d", round, v[:3], w, i)))
				return rep, time.Since(start)
			}))
		}
	}
	fmt.Fprintf(&report, "| POST /regions, 16 clients, one replica | writes/s | p50 | p99 | failed |\n|---|---|---|---|---|\n")
	for _, v := range []string{"one node", "three nodes"} {
		fmt.Fprintf(&report, "| database connections to %s | %s |\n", v, medians(writes[v], 201))
	}

	// Conditional writes under conflict: 16 clients (8 per replica) each GET the region and PATCH
	// it with If-Match.
	target := decode[struct {
		RegionID string `json:"region_id"`
	}](t, mustCall(t, 201, "POST", node1.url("/openapi/v1/regions"), processAdmin, regionBody("bench-contended"))).RegionID
	conditional := map[string][]result{}
	for round := 0; round < rounds; round++ {
		variants := []string{"two replicas, one node", "two replicas, two nodes"}
		if round%2 == 1 {
			slices.Reverse(variants)
		}
		for _, v := range variants {
			pair := map[string][]*replica{"two replicas, one node": {node1, node1b}, "two replicas, two nodes": {node1, node2}}[v]
			conditional[v] = append(conditional[v], drive(duration, pair, 8, func(r *replica, w, i int) (reply, time.Duration) {
				got, err := call("GET", r.url("/openapi/v1/regions/"+target), processAdmin, "")
				if err != nil {
					return got, 0
				}
				start := time.Now()
				rep, _ := call("PATCH", r.url("/openapi/v1/regions/"+target), processAdmin, fmt.Sprintf(`{"desc":"%d-%d"}`, w, i), "If-Match", got.header.Get("ETag"))
				return rep, time.Since(start)
			}))
		}
	}
	fmt.Fprintf(&report, "\n| GET then PATCH one region with If-Match, 16 clients | 200/s | PATCH p50 | PATCH p99 | 412 | other failures |\n|---|---|---|---|---|---|\n")
	for _, v := range []string{"two replicas, one node", "two replicas, two nodes"} {
		fmt.Fprintf(&report, "| %s | %s |\n", v, medians(conditional[v], 200, 412))
	}

	// Reads through node 2 right after a write through node 1, and with nothing written.
	type readStats struct {
		lat   []time.Duration
		stale int
	}
	reads := map[string]*readStats{"after a write, wsrep_sync_wait=1": {}, "after a write, wsrep_sync_wait=0": {},
		"idle, wsrep_sync_wait=1": {}, "idle, wsrep_sync_wait=0": {}}
	readers := map[string]*replica{"1": node2, "0": node2NoSync}
	n := int(duration/time.Millisecond) / 5 * rounds
	for i := 0; i < 2*n; i++ {
		idle := i >= n
		var etag string
		if !idle {
			rep := mustCall(t, 200, "PATCH", node1.url("/openapi/v1/regions/"+target), processAdmin, fmt.Sprintf(`{"desc":"read-%d"}`, i))
			etag = rep.header.Get("ETag")
		}
		order := []string{"1", "0"}
		if i%2 == 1 {
			order = []string{"0", "1"}
		}
		for _, sw := range order {
			start := time.Now()
			rep := mustCall(t, 200, "GET", readers[sw].url("/openapi/v1/regions/"+target), processAdmin, "")
			key := map[bool]string{false: "after a write", true: "idle"}[idle] + ", wsrep_sync_wait=" + sw
			reads[key].lat = append(reads[key].lat, time.Since(start))
			if !idle && rep.header.Get("ETag") != etag {
				reads[key].stale++
			}
		}
	}
	fmt.Fprintf(&report, "\n| GET /regions/{id} through node 2 (%d each) | p50 | p99 | stale (older than the write node 1 acknowledged) |\n|---|---|---|---|\n", n)
	for _, k := range []string{"after a write, wsrep_sync_wait=1", "after a write, wsrep_sync_wait=0", "idle, wsrep_sync_wait=1", "idle, wsrep_sync_wait=0"} {
		fmt.Fprintf(&report, "| %s | %v | %v | %d |\n", k, pct(reads[k].lat, 50), pct(reads[k].lat, 99), reads[k].stale)
	}
	fmt.Fprintf(&report, "\nload average after: %s\n", loadAverage())
	t.Log("\n" + report.String())
}

type result struct {
	duration time.Duration
	lat      []time.Duration // of the requests answered with 2xx or 412
	statuses map[int]int     // 0: no reply
}

// drive runs clients clients per replica for d, each calling do in a loop; do returns the reply
// and how long the measured request took.
func drive(d time.Duration, replicas []*replica, clients int, do func(r *replica, client, i int) (reply, time.Duration)) result {
	res := result{duration: d, statuses: map[int]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for ri, r := range replicas {
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; time.Now().Before(end); i++ {
					rep, took := do(r, ri*clients+c, i)
					mu.Lock()
					res.statuses[rep.status]++
					if rep.status >= 200 && rep.status < 300 || rep.status == 412 {
						res.lat = append(res.lat, took)
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	return res
}

// medians formats the medians over rounds of: successes per second, p50 and p99 of the answered
// requests, then the count of each other wanted status, then of anything else.
func medians(rs []result, ok int, others ...int) string {
	var rate []float64
	var p50, p99 []time.Duration
	counts := make([][]int, len(others)+1)
	for _, r := range rs {
		rate = append(rate, float64(r.statuses[ok])/r.duration.Seconds())
		p50, p99 = append(p50, pct(r.lat, 50)), append(p99, pct(r.lat, 99))
		rest := 0
		for s, c := range r.statuses {
			if s != ok && !slices.Contains(others, s) {
				rest += c
			}
		}
		for i, s := range others {
			counts[i] = append(counts[i], r.statuses[s])
		}
		counts[len(others)] = append(counts[len(others)], rest)
	}
	out := fmt.Sprintf("%.0f | %v | %v", median(rate), median(p50), median(p99))
	for _, c := range counts {
		out += fmt.Sprintf(" | %d", median(c))
	}
	return out
}

func median[T int | float64 | time.Duration](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func pct(lat []time.Duration, p int) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[(len(s)-1)*p/100].Round(10 * time.Microsecond)
}

func loadAverage() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
