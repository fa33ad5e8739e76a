package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
)

type reportCmd struct {
	Results  string `required:"" type:"existingfile" help:"Results file written by scripts/bench.sh."`
	Meta     string `required:"" type:"existingfile" help:"KEY<TAB>VALUE file describing the run."`
	Markdown string `help:"Write the Markdown report here too."`
}

func (c *reportCmd) Run() error {
	rs, err := parseFile(c.Results, parseResults)
	if err != nil {
		return err
	}
	meta, err := parseFile(c.Meta, parseMeta)
	if err != nil {
		return err
	}
	writeResults(os.Stdout, rs, meta)
	if c.Markdown == "" {
		return nil
	}
	out, err := os.Create(c.Markdown)
	if err != nil {
		return err
	}
	writeMarkdown(out, rs, meta)
	return out.Close()
}

// parseFile parses the file at path with parse.
func parseFile[T any](path string, parse func(io.Reader) (T, error)) (T, error) {
	f, err := os.Open(path)
	if err != nil {
		var zero T
		return zero, err
	}
	defer f.Close()
	return parse(f)
}

func writeMarkdown(w io.Writer, rs []record, meta map[string]string) {
	kind := "a full run"
	if meta["quick"] == "1" {
		kind = "a QUICK smoke run (BENCH_QUICK=1: short runs, fewer regions) — not for conclusions"
	}
	if meta["only"] == "probe" {
		kind += ", of the probing section only (BENCH_ONLY=probe)"
	}
	fmt.Fprintf(w, "# Benchmarks\n\nMeasured by `make bench` on %s, %s.\n\n", meta["date"], kind)
	fmt.Fprintf(w, "> **The machine is shared and noisy.** %s Only ratios measured within the same round, and "+
		"medians over the rounds, mean anything; absolute numbers move from run to run, so never compare "+
		"numbers from different runs (rerun `make bench` to compare a change: both sides in one run).\n\n", meta["shared_note"])
	fmt.Fprintf(w, "## Machine\n\n")
	table(w, []string{"", ""}, [][]string{
		{"CPU", meta["cpu"]},
		{"Cores (nproc)", meta["nproc"]},
		{"Memory", meta["memory"]},
		{"Kernel", meta["kernel"]},
		{"Go", meta["go"]},
		{"MariaDB", meta["mariadb"]},
		{"SQLite", "modernc.org/sqlite (pure Go, via glebarez/sqlite), WAL"},
		{"Load generator", meta["wrk"]},
		{"regiond", meta["regiond"]},
		{"Load average (1, 5, 15 min)", "at start " + meta["load_start"] + "; at end " + meta["load_end"]},
	})
	writeResults(w, rs, meta)
	fmt.Fprintf(w, "## How it was measured\n\n")
	fmt.Fprintf(w, "- Every server runs on 127.0.0.1 on the same 2-core machine as the load generator, "+
		"which takes its share of the CPU: the numbers are for this setup, not capacity planning.\n")
	fmt.Fprintf(w, "- regiond is the real binary (`make build`), started as `%s` (plus `--no-access-log` for "+
		"the `nolog` variants): authentication and request validation on, as always; the rate limit off.\n", meta["serve_cmd"])
	fmt.Fprintf(w, "- Databases: SQLite files under `artifacts/bench/run/`, MariaDB databases `%s` and `%s` at "+
		"127.0.0.1:3306, dropped and recreated by the script. The 50 regions are created through the API; "+
		"tokens with `regiond token create`.\n", meta["mysql_db"], meta["mysql_db_large"])
	fmt.Fprintf(w, "- The ceiling is `cmd/regiond-bench` `ceiling`: a plain `net/http` server writing the exact "+
		"body regiond returned for the list (fetched once), with only Content-Type and Content-Length set. "+
		"The ceiling writing regiond's headers too is the same server with `--headers`, given the headers "+
		"regiond answered with (a new X-Request-Id each time).\n")
	fmt.Fprintf(w, "- %s rounds; in each, every variant runs once for %s, in an order rotated from round to "+
		"round, after one warm-up run each before the first round.\n", meta["rounds"], meta["duration"])
	fmt.Fprintf(w, "- Reads: `%s`\n", meta["cmd_read"])
	fmt.Fprintf(w, "- Writes: `%s`\n", meta["cmd_write"])
	fmt.Fprintf(w, "- Pages: `%s`\n", meta["cmd_page"])
	fmt.Fprintf(w, "- Whole list: `%s`\n", meta["cmd_stream"])
	fmt.Fprintf(w, "- Peak RSS: `VmHWM` of `/proc/PID/status`, reset with `echo 5 > /proc/PID/clear_refs` "+
		"before each measured run.\n")
	fmt.Fprintf(w, "- Large database: %s regions bulk-inserted by `regiond-bench seed` (batches of 1000 rows, one "+
		"transaction); regiond's list cache %s.\n\n", fmtCount(meta["large_n"]), meta["large_cache_note"])
	fmt.Fprintf(w, "## Reproduce\n\nThis run took %s.\n\n```sh\nmake bench                 # ≈ 10 min on 2 cores; writes BENCHMARKS.md\n"+
		"BENCH_QUICK=1 make bench   # ≈ 2 min smoke run; writes artifacts/bench/BENCHMARKS.quick.md\n"+
		"BENCH_ONLY=probe make bench  # ≈ 2 min: only the probing section; artifacts/bench/BENCHMARKS.probe.md\n"+
		"BENCH_DURATION=20s BENCH_ROUNDS=5 make bench\n```\n\n"+
		"Raw numbers of every round: `artifacts/bench/results.txt` (one line per run), wrk's own output in "+
		"`artifacts/bench/raw/`, server logs in `artifacts/bench/run/` (not committed).\n", meta["elapsed"])
}

// fmtCount formats an integer given as text, with thousands separators.
func fmtCount(s string) string {
	f, _ := strconv.ParseFloat(s, 64)
	return fmtRPS(f)
}
