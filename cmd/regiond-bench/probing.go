package main

import (
	"fmt"
	"io"
)

// targetProbeP99Ratio: probing must not move the list's p99 (within the machine's noise).
const targetProbeP99Ratio = 1.2

// writeProbing writes the section of the list measured while regiond probes many regions every
// second, next to the same server not probing, each ratio taken within a round: once saturated
// (what probing costs in throughput), once at a steady load below saturation (what it adds to
// the latency: at saturation wrk's connections queue, and any CPU probing takes lengthens the
// queue, so a saturated p99 restates the throughput).
func writeProbing(w io.Writer, rs []record, meta map[string]string) {
	runs := pick(rs, "group", "probe")
	if len(runs) == 0 {
		return
	}
	n := fmtCount(meta["probe_n"])
	fmt.Fprintf(w, "## The list while %s regions are probed every second\n\n"+
		"The 50-region list (`GET /openapi/v1/regions`, %s connections, access log on, SQLite) from regiond "+
		"probing with `--probe-interval 1s --probe-concurrency %s --probe-deny-cidrs none` while %s regions of another enterprise "+
		"point at a fake rbd-api on this machine (`regiond-bench rbdapi`, plain HTTP: it answers "+
		"`/v2/health`, `/v2/version`, `/v2/cluster`; it stands for the regions' own machines, so it runs at the lowest CPU priority, `chrt --idle 0`), "+
		"next to the same server with `--probe-interval 0`. "+
		"It probes in its own process (`regiond serve`, the default), or a prober apart does: "+
		"`regiond serve --probe-interval 0` beside `chrt --idle 0 regiond probe` with the same flags, as docs/operations.md "+
		"advises for many probes a second on few cores. "+
		"The servers take turns on one database, one at a time, each after a %s warm-up (the prober's "+
		"first pass over every region included). Each is measured twice: saturated (as fast as the connections go), "+
		"then at a steady load (`scripts/bench/pace.lua`: each connection waits %s ms between an answer and its next "+
		"request). Probes/s is counted at the fake rbd-api over the measured run. Medians over %d rounds; ratios within a round.\n\n",
		n, meta["conns"], meta["probe_concurrency"], n, meta["probe_warmup"], meta["probe_pause_ms"], len(roundsOf(runs)))
	variants := []struct{ id, label string }{{"idle", "not probing (--probe-interval 0)"},
		{"probing", "probing " + n + " regions every 1 s, in serve"}, {"apart", "probing " + n + " regions every 1 s, apart at SCHED_IDLE"}}

	saturated, steady := pick(runs, "load", "saturated"), pick(runs, "load", "steady")
	fmt.Fprintf(w, "Saturated: the CPU the prober takes (and the fake rbd-api and the kernel's work for the probes' connections, on the same 2 cores) is throughput the list loses; "+
		"a prober at the lowest priority takes only what the list leaves, and probes less.\n\n")
	var rows [][]string
	for _, v := range variants {
		vs := pick(saturated, "variant", v.id)
		if len(vs) == 0 {
			continue
		}
		ratio, p99ratio := "—", "—"
		if v.id != "idle" {
			if rps, p99 := probeRatios(saturated, v.id); len(rps) > 0 {
				ratio, p99ratio = fmt.Sprintf("%.0f%%", median(rps)*100), fmt.Sprintf("%.2f×", median(p99))
			}
		}
		rows = append(rows, []string{v.label, fmtRPS(median(values(vs, record.rps))), ratio,
			fmtLatency(median(values(vs, field("p50_us")))), fmtLatency(median(values(vs, field("p99_us")))), p99ratio,
			fmt.Sprintf("%.0f", median(values(vs, probesPerSecond))), fmtKB(median(values(vs, field("hwm_kb"))))})
	}
	table(w, []string{"Server", "req/s", "req/s vs not probing", "p50", "p99", "p99 vs not probing", "probes/s", "peak RSS"}, rows)

	fmt.Fprintf(w, "\nSteady load: the latency probing adds to the list's requests. The target: a p99 at most %.1f× the server's not probing.\n\n", targetProbeP99Ratio)
	rows = nil
	for _, v := range variants {
		vs := pick(steady, "variant", v.id)
		if len(vs) == 0 {
			continue
		}
		p99ratio := "—"
		if v.id != "idle" {
			if _, p99 := probeRatios(steady, v.id); len(p99) > 0 {
				p99ratio = fmt.Sprintf("%.2f× %s", median(p99), verdict(median(p99) <= targetProbeP99Ratio))
			}
		}
		rows = append(rows, []string{v.label, fmtRPS(median(values(vs, record.rps))),
			fmtLatency(median(values(vs, field("p50_us")))), fmtLatency(median(values(vs, field("p99_us")))),
			fmtLatency(median(values(vs, field("p999_us")))), p99ratio, fmt.Sprintf("%.0f", median(values(vs, probesPerSecond)))})
	}
	table(w, []string{"Server", "req/s", "p50", "p99", "p99.9", fmt.Sprintf("p99 vs not probing (≤ %.1f×)", targetProbeP99Ratio), "probes/s"}, rows)
}

// probeRatios are, round by round, the variant's req/s and p99 over the idle server's.
func probeRatios(runs []record, variant string) (rps, p99 []float64) {
	for _, r := range pick(runs, "variant", variant) {
		if idle := pick(runs, "variant", "idle", "round", r["round"]); len(idle) == 1 && idle[0].rps() > 0 && idle[0].num("p99_us") > 0 {
			rps = append(rps, r.rps()/idle[0].rps())
			p99 = append(p99, r.num("p99_us")/idle[0].num("p99_us"))
		}
	}
	return rps, p99
}

func probesPerSecond(r record) float64 { return r.num("probes") / (r.num("duration_us") / 1e6) }
