package main

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The targets of the issue, shown next to the numbers.
const (
	targetRPSRatio   = 0.90 // regiond's requests/s at least 90% of the ceiling's
	targetP99Ratio   = 1.5  // regiond's p99 at most 1.5 times the ceiling's
	targetPageP99us  = 5000 // a page of 100 out of 100,000 regions: p99 under 5 ms on MariaDB
	targetStreamGrow = 64 << 10
)

// record is one line of the results file: space-separated key=value pairs, written by
// scripts/bench.sh after each measured run.
type record map[string]string

func (r record) num(k string) float64 {
	f, _ := strconv.ParseFloat(r[k], 64)
	return f
}

// rps is the requests per second of a wrk run.
func (r record) rps() float64 {
	d := r.num("duration_us")
	if d == 0 {
		return 0
	}
	return r.num("requests") / (d / 1e6)
}

func parseResults(rd io.Reader) ([]record, error) {
	var out []record
	sc := bufio.NewScanner(rd)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := record{}
		for _, f := range strings.Fields(line) {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				return nil, fmt.Errorf("results line %d: %q is not key=value", n, f)
			}
			r[k] = v
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// parseMeta reads KEY<TAB>VALUE lines.
func parseMeta(rd io.Reader) (map[string]string, error) {
	m := map[string]string{}
	sc := bufio.NewScanner(rd)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "\t")
		if ok {
			m[k] = v
		}
	}
	return m, sc.Err()
}

// median of xs; the mean of the middle two for an even count; NaN-free: 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

func pick(rs []record, kv ...string) []record {
	var out []record
next:
	for _, r := range rs {
		for i := 0; i+1 < len(kv); i += 2 {
			if r[kv[i]] != kv[i+1] {
				continue next
			}
		}
		out = append(out, r)
	}
	return out
}

func values(rs []record, f func(record) float64) []float64 {
	out := make([]float64, 0, len(rs))
	for _, r := range rs {
		out = append(out, f(r))
	}
	return out
}

func field(k string) func(record) float64 { return func(r record) float64 { return r.num(k) } }

func fmtRPS(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func fmtLatency(us float64) string {
	switch {
	case us >= 1e6:
		return fmt.Sprintf("%.2f s", us/1e6)
	case us >= 1000:
		return fmt.Sprintf("%.2f ms", us/1000)
	default:
		return fmt.Sprintf("%.0f µs", us)
	}
}

func fmtKB(kb float64) string {
	if kb >= 1024 {
		return fmt.Sprintf("%.1f MiB", kb/1024)
	}
	return fmt.Sprintf("%.0f KiB", kb)
}

func fmtBytes(b float64) string {
	return fmt.Sprintf("%s B (%.1f MiB)", fmtRPS(b), b/(1<<20))
}

func verdict(ok bool) string {
	if ok {
		return "✓ met"
	}
	return "✗ missed"
}

// table renders a Markdown table whose columns are padded, so it reads in a terminal too.
func table(w io.Writer, header []string, rows [][]string) {
	width := make([]int, len(header))
	for _, r := range append([][]string{header}, rows...) {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c), 3)
		}
	}
	line := func(r []string) {
		fmt.Fprint(w, "|")
		for i, c := range r {
			fmt.Fprintf(w, " %s%s |", c, strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)))
		}
		fmt.Fprintln(w)
	}
	line(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
	fmt.Fprintln(w)
}

// readVariants are the list variants in the order they are reported, with their descriptions.
var readVariants = []struct{ id, label string }{
	{"ceiling", "ceiling: raw net/http, same bytes"},
	{"ceiling-headers", "ceiling writing regiond's headers too"},
	{"sqlite", "regiond, SQLite, access log on"},
	{"sqlite-nolog", "regiond, SQLite, --no-access-log"},
	{"mariadb", "regiond, MariaDB, access log on"},
	{"mariadb-nolog", "regiond, MariaDB, --no-access-log"},
}

var dbLabel = map[string]string{"sqlite": "SQLite", "mariadb": "MariaDB"}

// writeResults writes the results sections (the tables) to w: those of the groups the run measured.
func writeResults(w io.Writer, rs []record, meta map[string]string) {
	if len(pick(rs, "group", "read")) > 0 {
		writeReads(w, rs, meta)
	}
	writeWritesAndLarge(w, rs, meta)
	writeProbing(w, rs, meta)
}

// writeReads writes the 50-region list's section.
func writeReads(w io.Writer, rs []record, meta map[string]string) {
	rounds := roundsOf(rs)
	fmt.Fprintf(w, "## The 50-region list: regiond next to the ceiling\n\n")
	fmt.Fprintf(w, "`GET /openapi/v1/regions` with a `regions:read` token in Rainbond's bare form, the body "+
		"served from regiond's pre-encoded list (%s bytes). Medians over %d rounds; each ratio is taken "+
		"within a round against that round's ceiling, then the median of those ratios is shown. "+
		"Peak RSS is the server's VmHWM over the run (reset before it).\n\n", meta["list_bytes"], len(rounds))
	var rows [][]string
	for _, v := range readVariants {
		runs := pick(rs, "group", "read", "variant", v.id)
		if len(runs) == 0 {
			continue
		}
		ratios, p99ratios := ratiosTo(rs, runs, "ceiling")
		ratio, p99ratio := "—", "—"
		switch {
		case v.id == "ceiling-headers" && len(ratios) > 0:
			ratio, p99ratio = fmt.Sprintf("%.0f%%", median(ratios)*100), fmt.Sprintf("%.2f×", median(p99ratios))
		case v.id != "ceiling" && len(ratios) > 0:
			mr, mp := median(ratios), median(p99ratios)
			ratio = fmt.Sprintf("%.0f%% %s", mr*100, verdict(mr >= targetRPSRatio))
			p99ratio = fmt.Sprintf("%.2f× %s", mp, verdict(mp <= targetP99Ratio))
		}
		rows = append(rows, []string{v.label, fmtRPS(median(values(runs, record.rps))), ratio,
			fmtLatency(median(values(runs, field("p50_us")))), fmtLatency(median(values(runs, field("p99_us")))), p99ratio,
			fmtKB(median(values(runs, field("hwm_kb"))))})
	}
	table(w, []string{"Variant", "req/s", "req/s vs ceiling (≥ 90%)", "p50", "p99", "p99 vs ceiling (≤ 1.5×)", "peak RSS"}, rows)
	writeHeadersCeiling(w, rs)

	// Per-round ratios, to show how much the rounds agree.
	header := []string{"Round", "ceiling req/s"}
	for _, v := range readVariants[1:] {
		header = append(header, v.id)
	}
	rows = nil
	for _, round := range rounds {
		c := pick(rs, "group", "read", "variant", "ceiling", "round", round)
		if len(c) != 1 {
			continue
		}
		row := []string{round, fmtRPS(c[0].rps())}
		for _, v := range readVariants[1:] {
			cell := "—"
			if r := pick(rs, "group", "read", "variant", v.id, "round", round); len(r) == 1 && c[0].rps() > 0 {
				cell = fmt.Sprintf("%.0f%% / %.2f×", 100*r[0].rps()/c[0].rps(), r[0].num("p99_us")/c[0].num("p99_us"))
			}
			row = append(row, cell)
		}
		rows = append(rows, row)
	}
	fmt.Fprintf(w, "Each round (req/s vs ceiling / p99 vs ceiling):\n\n")
	table(w, header, rows)
}

// writeWritesAndLarge writes the sections of the writes and of the large database.
func writeWritesAndLarge(w io.Writer, rs []record, meta map[string]string) {
	rounds := roundsOf(append(pick(rs, "group", "write"), pick(rs, "group", "large")...))
	var rows [][]string
	if ws := pick(rs, "group", "write"); len(ws) > 0 {
		fmt.Fprintf(w, "## Writes\n\n`POST /openapi/v1/regions` (a new region with a unique name each time) and "+
			"`PATCH /openapi/v1/regions/{id}` (a JSON merge patch of `desc`, spread over %s regions, no `If-Match`), "+
			"%s connections, access log on, the prober off (`--probe-interval 0`: it would probe every new region at once; "+
			"it has its own section). Every write is a transaction that also bumps the enterprise's "+
			"generation and appends an audit event. Medians over %d rounds.\n\n", meta["patch_targets"], meta["write_conns"], len(rounds))
		rows = nil
		for _, db := range []string{"sqlite", "mariadb"} {
			for _, op := range []string{"create", "patch"} {
				runs := pick(ws, "db", db, "op", op)
				if len(runs) == 0 {
					continue
				}
				name := map[string]string{"create": "create (POST)", "patch": "update (PATCH)"}[op]
				rows = append(rows, []string{dbLabel[db], name, fmtRPS(median(values(runs, record.rps))),
					fmtLatency(median(values(runs, field("p50_us")))), fmtLatency(median(values(runs, field("p99_us")))),
					fmtKB(median(values(runs, field("hwm_kb"))))})
			}
		}
		table(w, []string{"Database", "Operation", "writes/s", "p50", "p99", "peak RSS"}, rows)
	}

	if ls := pick(rs, "group", "large"); len(ls) > 0 {
		fmt.Fprintf(w, "## %s regions\n\nSeeded straight into the database (bulk INSERTs), then regiond restarted. "+
			"Access log on. Medians over %d rounds.\n\n", fmtCount(meta["large_n"]), len(rounds))
		fmt.Fprintf(w, "### A page of 100\n\n`GET /openapi/v1/regions?limit=100` (the first page) and the same "+
			"with a `page_token` %s regions deep (taken from the `Link` headers of the pages before it), with "+
			"the same %s connections as the list; then the first page over one connection, which shows "+
			"the time a page takes without queueing behind the other connections. The 5 ms target is the "+
			"time a page takes, so it is judged on the one-connection rows; with %s connections on 2 cores the "+
			"p99 is mostly time spent waiting in line.\n\n", fmtCount(meta["deep_offset"]), meta["conns"], meta["conns"])
		rows = nil
		pages := map[string]string{"first": "first", "deep": "deep", "first-c1": "first", "deep-c1": "deep"}
		for _, db := range []string{"sqlite", "mariadb"} {
			for _, page := range []string{"first", "deep", "first-c1", "deep-c1"} {
				runs := pick(ls, "db", db, "page", page)
				if len(runs) == 0 {
					continue
				}
				p99 := median(values(runs, field("p99_us")))
				target := "—"
				if db == "mariadb" && runs[0]["conns"] == "1" {
					target = verdict(p99 < targetPageP99us)
				}
				rows = append(rows, []string{dbLabel[db], pages[page], runs[0]["conns"], fmtRPS(median(values(runs, record.rps))),
					fmtLatency(median(values(runs, field("p50_us")))), fmtLatency(p99), target})
			}
		}
		table(w, []string{"Database", "Page", "Connections", "req/s", "p50", "p99", "p99 < 5 ms (MariaDB)"}, rows)
	}

	if ss := pick(rs, "group", "stream"); len(ss) > 0 {
		fmt.Fprintf(w, "### The whole list, unpaged\n\n`GET /openapi/v1/regions` with no query, fetched with "+
			"`curl -o /dev/null`: first as the very first request of a freshly started server (round 1), then "+
			"once in every later round. RSS before is VmRSS just before the request (VmHWM reset then); peak "+
			"is VmHWM after it; growth is peak minus before (for later requests: the largest).\n\n")
		rows = nil
		for _, db := range []string{"sqlite", "mariadb"} {
			for _, first := range []bool{true, false} {
				var runs []record
				for _, r := range pick(ss, "db", db) {
					if (r["round"] == "1") == first {
						runs = append(runs, r)
					}
				}
				if len(runs) == 0 {
					continue
				}
				var growth []float64
				how := "streamed (chunked, no Content-Length)"
				for _, r := range runs {
					growth = append(growth, r.num("hwm_after_kb")-r.num("rss_before_kb"))
					if r["content_length"] != "none" {
						how = "NOT streamed: Content-Length " + r["content_length"]
					}
				}
				which := "first request"
				if !first {
					which = fmt.Sprintf("later (%d)", len(runs))
				}
				g := slices.Max(growth)
				rows = append(rows, []string{dbLabel[db], which, fmt.Sprintf("%.2f s", median(values(runs, field("seconds")))),
					fmtBytes(runs[0].num("bytes")), how, fmtKB(median(values(runs, field("rss_before_kb")))),
					fmtKB(slices.Max(values(runs, field("hwm_after_kb")))), fmt.Sprintf("%s %s", fmtKB(g), verdict(g < targetStreamGrow))})
			}
		}
		table(w, []string{"Database", "Request", "time", "bytes", "response", "RSS before", "peak RSS", "growth (< 64 MiB)"}, rows)
	}
}

// ratiosTo are the ratios of each run's requests/s and p99 to those of the baseline variant's run
// in the same round.
func ratiosTo(rs, runs []record, baseline string) (rps, p99 []float64) {
	for _, r := range runs {
		c := pick(rs, "group", "read", "variant", baseline, "round", r["round"])
		if len(c) == 1 && c[0].rps() > 0 && c[0].num("p99_us") > 0 {
			rps = append(rps, r.rps()/c[0].rps())
			p99 = append(p99, r.num("p99_us")/c[0].num("p99_us"))
		}
	}
	return rps, p99
}

// writeHeadersCeiling shows regiond next to the ceiling that writes regiond's headers too: what
// regiond's own work costs, apart from net/http writing the headers the API promises. The target
// stays against the raw ceiling.
func writeHeadersCeiling(w io.Writer, rs []record) {
	var rows [][]string
	for _, v := range readVariants {
		runs := pick(rs, "group", "read", "variant", v.id)
		if ratios, _ := ratiosTo(rs, runs, "ceiling-headers"); len(ratios) > 0 && !strings.HasPrefix(v.id, "ceiling") {
			rows = append(rows, []string{v.label, fmt.Sprintf("%.0f%%", median(ratios)*100)})
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "The same runs next to the ceiling that writes regiond's headers too (`regiond-bench ceiling "+
		"--headers`: X-Request-Id, new each time, Cache-Control, the security headers, ETag, X-Total-Count), "+
		"which shows regiond's own work apart from net/http writing the headers the API promises; the "+
		"target above stays against the raw ceiling:\n\n")
	table(w, []string{"Variant", "req/s vs ceiling writing regiond's headers"}, rows)
}

func roundsOf(rs []record) []string {
	var out []string
	for _, r := range rs {
		if !slices.Contains(out, r["round"]) {
			out = append(out, r["round"])
		}
	}
	slices.SortFunc(out, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y })
	return out
}
