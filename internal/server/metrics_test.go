package server_test

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
)

// metricSeries returns the series /metrics holds (name and labels, without values), and its size.
func metricSeries(t *testing.T, e *apitest.Env) (map[string]bool, int) {
	t.Helper()
	resp, body := e.Do("GET", "/metrics", "", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	series := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		series[line[:strings.LastIndexByte(line, ' ')]] = true
	}
	return series, len(body)
}

var requestLabels = regexp.MustCompile(`^regiond_http_request[a-z_]*\{method="([^"]*)",route="([^"]*)"`)

// TestMetricLabelsAreBounded: whatever methods and paths unauthenticated callers send, /metrics
// holds a fixed set of series — unknown methods are one label value, unmatched paths another — so
// that neither its size nor the server's memory grows with the number of requests.
func TestMetricLabelsAreBounded(t *testing.T) {
	e := apitest.Start(t, dbtest.SQLite(t), apitest.Options{})
	rnd := rand.New(rand.NewPCG(9, 7))
	word := func(letters string) string {
		b := make([]byte, 10)
		for i := range b {
			b[i] = letters[rnd.IntN(len(letters))]
		}
		return string(b)
	}
	const upper, lower = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz0123456789"
	// Each kind of request has one outcome, so that every batch produces the same label sets.
	kinds := []func() (method, path string){
		func() (string, string) { return word(upper), "/openapi/v1/regions" },
		func() (string, string) { return word(upper), "/" + word(lower) },
		func() (string, string) { return word(upper), "/openapi/v1/regions/" + word(lower) },
		func() (string, string) { return word(upper), "/metrics" },
		func() (string, string) { return "GET", "/openapi/v1/" + word(lower) + "/" + word(lower) },
		func() (string, string) { return "PATCH", "/" + word(lower) },
		func() (string, string) { return "get", "/healthz" },
	}
	batch := func(n int) {
		for i := 0; i < n; i++ {
			method, path := kinds[i%len(kinds)]()
			if resp, body := e.Do(method, path, "", "", nil); resp.StatusCode < 400 {
				t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, body)
			}
		}
	}
	metricSeries(t, e) // the scrape's own series exist from here on
	batch(700)
	first, firstSize := metricSeries(t, e)
	batch(1400)
	second, secondSize := metricSeries(t, e)

	var added []string
	for s := range second {
		if !first[s] {
			added = append(added, s)
		}
	}
	slices.Sort(added)
	if len(added) > 0 {
		t.Errorf("%d requests added %d series, for example:\n%s", 1400, len(added), strings.Join(added[:min(len(added), 10)], "\n"))
	}
	known := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}
	for s := range second {
		if m := requestLabels.FindStringSubmatch(s); m != nil && !slices.Contains(known, m[1]) {
			t.Fatalf("method label %q: %s", m[1], s)
		}
	}
	t.Logf("/metrics: %d series, %d bytes after 700 requests; %d series, %d bytes after 2100", len(first), firstSize, len(second), secondSize)
	// Counters gain digits; a series per request would add kilobytes per hundred requests.
	if secondSize > firstSize+4096 {
		t.Errorf("/metrics grew from %d to %d bytes", firstSize, secondSize)
	}
	if n := len(second); n > 1000 {
		t.Errorf("/metrics holds %d series", n)
	}
}
