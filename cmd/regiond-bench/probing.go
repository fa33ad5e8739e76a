package main

import (
	"fmt"
	"io"
)

// targetProbeP99Ratio: probing must not move the list's p99 (within the machine's noise).
const targetProbeP99Ratio = 1.2

// writeProbing writes the section of the list measured while regiond probes many regions every
// second, next to the same server not probing, each ratio taken within a round.
func writeProbing(w io.Writer, rs []record, meta map[string]string) {
	runs := pick(rs, "group", "probe")
	if len(runs) == 0 {
		return
	}
	rounds := roundsOf(runs)
	fmt.Fprintf(w, "## The list while %s regions are probed every second\n\n"+
		"The 50-region list (`GET /openapi/v1/regions`, %s connections, access log on, SQLite) from regiond "+
		"serving with `--probe-interval 1s --probe-concurrency %s --probe-deny-cidrs none` while %s regions of another enterprise "+
		"point at a fake rbd-api on this machine (`regiond-bench rbdapi`, plain HTTP: it answers "+
		"`/v2/health`, `/v2/version`, `/v2/cluster`), next to the same server with `--probe-interval 0`. "+
		"The servers take turns on one database, one at a time, each after a %s warm-up (the prober's "+
		"first pass over every region included). Probes/s is counted at the fake rbd-api over the measured "+
		"run. Medians over %d rounds; ratios within a round.\n\n",
		fmtCount(meta["probe_n"]), meta["conns"], meta["probe_concurrency"], fmtCount(meta["probe_n"]), meta["probe_warmup"], len(rounds))
	var rows [][]string
	var rpsRatios, p99Ratios []float64
	for _, r := range pick(runs, "variant", "probing") {
		if idle := pick(runs, "variant", "idle", "round", r["round"]); len(idle) == 1 && idle[0].rps() > 0 && idle[0].num("p99_us") > 0 {
			rpsRatios = append(rpsRatios, r.rps()/idle[0].rps())
			p99Ratios = append(p99Ratios, r.num("p99_us")/idle[0].num("p99_us"))
		}
	}
	for _, v := range []struct{ id, label string }{{"idle", "not probing (--probe-interval 0)"}, {"probing", "probing " + fmtCount(meta["probe_n"]) + " regions every 1 s"}} {
		vs := pick(runs, "variant", v.id)
		if len(vs) == 0 {
			continue
		}
		ratio, p99ratio := "—", "—"
		if v.id == "probing" && len(rpsRatios) > 0 {
			ratio = fmt.Sprintf("%.0f%%", median(rpsRatios)*100)
			p99ratio = fmt.Sprintf("%.2f× %s", median(p99Ratios), verdict(median(p99Ratios) <= targetProbeP99Ratio))
		}
		probes := values(vs, func(r record) float64 { return r.num("probes") / (r.num("duration_us") / 1e6) })
		rows = append(rows, []string{v.label, fmtRPS(median(values(vs, record.rps))), ratio,
			fmtLatency(median(values(vs, field("p50_us")))), fmtLatency(median(values(vs, field("p99_us")))), p99ratio,
			fmt.Sprintf("%.0f", median(probes)), fmtKB(median(values(vs, field("hwm_kb"))))})
	}
	table(w, []string{"Server", "req/s", "req/s vs not probing", "p50", "p99", "p99 vs not probing (≤ 1.2×)", "probes/s", "peak RSS"}, rows)
}
