package main

import (
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// The ratio to the ceiling is taken within each round, then the median of those ratios is
// reported: here 90% and 80% give 85%, where the ratio of the medians would give 83%.
func TestReadRatiosAreTakenWithinRounds(t *testing.T) {
	results := `
group=read round=1 variant=ceiling requests=100 duration_us=1000000 p50_us=100 p99_us=1000 hwm_kb=1000
group=read round=1 variant=sqlite requests=90 duration_us=1000000 p50_us=150 p99_us=1200 hwm_kb=2000
group=read round=2 variant=ceiling requests=200 duration_us=1000000 p50_us=100 p99_us=2000 hwm_kb=1000
group=read round=2 variant=sqlite requests=160 duration_us=1000000 p50_us=150 p99_us=4000 hwm_kb=2000
`
	rs, err := parseResults(strings.NewReader(results))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	writeResults(&out, rs, map[string]string{"list_bytes": "20477"})
	row := lineWith(t, out.String(), "regiond, SQLite, access log on")
	// req/s median 125; ratio 85% (missed); p99 ratios 1.2 and 2.0: median 1.60× (missed).
	for _, want := range []string{"| 125 ", "85% ✗ missed", "1.60× ✗ missed", "150 µs"} {
		if !strings.Contains(row, want) {
			t.Errorf("row %q lacks %q", row, want)
		}
	}
	rounds := lineWith(t, out.String(), "| 2     | 200")
	if !strings.Contains(rounds, "80% / 2.00×") {
		t.Errorf("round 2 row %q lacks 80%% / 2.00×", rounds)
	}
}

func TestStreamGrowthAndStreaming(t *testing.T) {
	results := `
group=stream round=1 db=mariadb seconds=1.5 bytes=33000000 content_length=none rss_before_kb=30000 hwm_after_kb=50000
group=stream round=2 db=mariadb seconds=1.0 bytes=33000000 content_length=none rss_before_kb=40000 hwm_after_kb=45000
group=stream round=1 db=sqlite seconds=1.0 bytes=33000000 content_length=33000000 rss_before_kb=30000 hwm_after_kb=130000
`
	rs, err := parseResults(strings.NewReader(results))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	writeResults(&out, rs, map[string]string{})
	first := lineWith(t, out.String(), "| MariaDB  | first request")
	for _, want := range []string{"1.50 s", "streamed (chunked, no Content-Length)", "19.5 MiB ✓ met"} {
		if !strings.Contains(first, want) {
			t.Errorf("row %q lacks %q", first, want)
		}
	}
	later := lineWith(t, out.String(), "| MariaDB  | later (1)")
	for _, want := range []string{"1.00 s", "4.9 MiB ✓ met"} {
		if !strings.Contains(later, want) {
			t.Errorf("row %q lacks %q", later, want)
		}
	}
	sqlite := lineWith(t, out.String(), "| SQLite")
	for _, want := range []string{"NOT streamed: Content-Length 33000000", "97.7 MiB ✗ missed"} {
		if !strings.Contains(sqlite, want) {
			t.Errorf("row %q lacks %q", sqlite, want)
		}
	}
}

func TestParseResultsRefusesAFieldWithoutValue(t *testing.T) {
	if _, err := parseResults(strings.NewReader("group=read round\n")); err == nil {
		t.Fatal("want an error for a field without =")
	}
}

func lineWith(t *testing.T, text, part string) string {
	t.Helper()
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, part) {
			return l
		}
	}
	t.Fatalf("no line with %q in:\n%s", part, text)
	return ""
}
