package main

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/shmchan/shmchan/bench"
)

// The goals of issue 16 ("closer to the hardware at every size"), each a
// ratio taken within every run of its benchmarks (the suite's and the
// interleaved rounds'), judged by the median over the runs and shown with
// its range.

// goal is one row of the goals table.
type goal struct {
	what, target string
	ratios       []float64 // one per run
	limit        float64
	atLeast      bool
	unit         string // how a ratio prints: "×", or a unit such as "M msg/s"
	detail       string // the medians behind the ratio
	absent       string // why there is no figure, when ratios is empty
	worst        bool   // ratios holds one value, the worst over every run
}

// seriesRatio pairs two series run by run, aligned at their ends (the
// rounds come last in every series; the suite's run, if any, first), and
// returns f of each pair.
func seriesRatio(a, b []float64, f func(a, b float64) float64) []float64 {
	n := min(len(a), len(b))
	out := make([]float64, 0, n)
	for i := range n {
		out = append(out, f(a[len(a)-n+i], b[len(b)-n+i]))
	}
	return out
}

func div(a, b float64) float64 { return a / b }

// result says pass, miss or not run, by the median.
func (g *goal) result() (mid float64, res string) {
	if len(g.ratios) == 0 {
		return math.NaN(), "not run"
	}
	m := median(g.ratios)
	if g.atLeast && m >= g.limit || !g.atLeast && m <= g.limit {
		return m, "**pass**"
	}
	return m, "**miss**"
}

// measured is the median, the range and the count of runs.
func (g *goal) measured() string {
	if len(g.ratios) == 0 {
		return "—"
	}
	m, _ := g.result()
	if g.worst {
		return fmt.Sprintf("%s %s (the worst of every run)", sig3(m), g.unit)
	}
	lo, hi := slices.Min(g.ratios), slices.Max(g.ratios)
	runs := "runs"
	if len(g.ratios) == 1 {
		runs = "run"
	}
	if g.unit == "×" {
		return fmt.Sprintf("%s (%s..%s, %d %s)", ratio(m), ratio(lo), ratio(hi), len(g.ratios), runs)
	}
	return fmt.Sprintf("%s %s (%s..%s, %d %s)", sig3(m), g.unit, sig3(lo), sig3(hi), len(g.ratios), runs)
}

// goals computes the rows of the goals table from a run.
func goals(rs *results) []*goal {
	var gs []*goal
	p50 := func(tr string, size int) []float64 { return rs.all("PingPong", tr, size, "p50-ns") }
	floor := p50("floor-atomic", 0)
	med := func(vs []float64) string { return ns(median(vs)) }
	latency := func(size int, limit float64) {
		for _, tr := range []string{"shmchan-spin", "shmchan-adaptive", "shmchan-zc"} {
			v := p50(tr, size)
			gs = append(gs, &goal{
				what: fmt.Sprintf("%s round trip p50, %s ÷ floor-atomic", sizeLabel(size), tr), target: fmt.Sprintf("≤ %s", ratio(limit)),
				ratios: seriesRatio(v, floor, div), limit: limit, unit: "×",
				detail: fmt.Sprintf("%s vs %s", med(v), med(floor)),
			})
		}
	}
	latency(8, 1.25)
	latency(64, 1.5)
	// The same goals from BenchmarkPaired, whose ratios are taken between
	// blocks a few milliseconds apart in one pair of processes (one value a
	// round: the median of its cycles' ratios), judged by the ratio of the
	// blocks' mean round trips timed as a whole, which carries no clock
	// share; the p50 ratio, clock included, is in the detail.
	paired := func(size int, limit float64) {
		for _, tr := range []string{"shmchan-spin", "shmchan-adaptive", "shmchan-zc"} {
			q := rs.all("Paired", tr, size, "mean-ratio")
			gs = append(gs, &goal{
				what:   fmt.Sprintf("%s round trip, %s ÷ floor-atomic, paired in blocks ms apart, mean without the clock", sizeLabel(size), tr),
				target: fmt.Sprintf("≤ %s", ratio(limit)), ratios: q, limit: limit, unit: "×",
				detail: fmt.Sprintf("mean %s vs %s; p50 (clock included) %s vs %s, ratio %s; in the cycles whose floor ran fast %s, slow %s (p50)",
					med(rs.all("Paired", tr, size, "mean-ns")), med(rs.all("Paired", "floor-atomic", 0, "mean-ns")),
					med(rs.all("Paired", tr, size, "p50-ns")), med(rs.all("Paired", "floor-atomic", 0, "p50-ns")),
					ratio(median(rs.all("Paired", tr, size, "ratio"))),
					ratio(median(rs.all("Paired", tr, size, "fast-ratio"))), ratio(median(rs.all("Paired", tr, size, "slow-ratio")))),
				absent: "the run has no BenchmarkPaired",
			})
		}
	}
	paired(8, 1.25)
	paired(64, 1.5)
	floorTail := rs.all("PingPong", "floor-atomic", 0, "p99.9-ns")
	for _, c := range []struct {
		tr    string
		limit float64
	}{{"shmchan-spin", 3}, {"shmchan-adaptive", 5}} {
		v := rs.all("PingPong", c.tr, 64, "p99.9-ns")
		gs = append(gs, &goal{
			what: fmt.Sprintf("64 B round trip p99.9, %s ÷ floor-atomic's p99.9", c.tr), target: fmt.Sprintf("≤ %s", ratio(c.limit)),
			ratios: seriesRatio(v, floorTail, div), limit: c.limit, unit: "×",
			detail: fmt.Sprintf("%s vs %s", med(v), med(floorTail)),
		})
	}
	// The copying API's round trip makes two copies more than the zero-copy
	// one (the peer's Recv out of the ring and the parent's); their cost is
	// two copy() calls of the size (BenchmarkMemcpy, ns/op). Both use the
	// Adaptive wait.
	for _, size := range bench.Sizes {
		cp, zc, zr := p50("shmchan-adaptive", size), p50("shmchan-zc", size), p50("shmchan-zc-read", size)
		cost := median(rs.all("Memcpy", "memcpy", size, "ns/op"))
		if math.IsNaN(cost) {
			cost = 0
		}
		goalOf := func(a, b float64) float64 { return a / (1.1*b + 2*cost) }
		detail := fmt.Sprintf("%s vs %s; 2 copies %s; copying ÷ zero-copy %s", med(cp), med(zc), ns(2*cost), ratio(median(seriesRatio(cp, zc, div))))
		if len(zr) > 0 {
			// The zero-copy round trip that reads its payload, as Recv
			// does: what is left of the gap is the copies.
			detail += fmt.Sprintf("; zero-copy reading every byte %s: copying ÷ (1.1 × that + 2 copies) %s", med(zr), ratio(median(seriesRatio(cp, zr, goalOf))))
		}
		gs = append(gs, &goal{
			what:   fmt.Sprintf("%s round trip p50, copying (adaptive) ÷ (1.1 × zero-copy + 2 copies)", sizeLabel(size)),
			target: "≤ 1×",
			ratios: seriesRatio(cp, zc, goalOf), limit: 1, unit: "×",
			detail: detail,
		})
	}
	for _, c := range []struct {
		tr    string
		limit float64
	}{{"shmchan-spin", 30}, {"shmchan-adaptive", 30}, {"shmchan-batch", 60}} {
		v := rs.all("Throughput", c.tr, 64, "msg/s")
		ms := make([]float64, len(v))
		for i, x := range v {
			ms[i] = x / 1e6
		}
		what := "64 B one-way, " + c.tr
		if c.tr == "shmchan-batch" {
			what += " (batches)"
		} else {
			what += " (one publication per message)"
		}
		gs = append(gs, &goal{what: what, target: fmt.Sprintf("≥ %.0f M msg/s", c.limit), ratios: ms, limit: c.limit, atLeast: true, unit: "M msg/s",
			absent: "the run has no " + c.tr + " transport"})
	}
	memcpy := rs.all("Memcpy", "memcpy", 1<<20, "MB/s")
	for _, tr := range []string{"shmchan-spin", "shmchan-adaptive"} {
		v := rs.all("Throughput", tr, 1<<20, "MB/s")
		gs = append(gs, &goal{
			what: "1 MiB one-way, " + tr + " ÷ single-core memcpy", target: "≥ 0.8×",
			ratios: seriesRatio(v, memcpy, div), limit: 0.8, atLeast: true, unit: "×",
			detail: fmt.Sprintf("%s vs %s", bytesPerSec(median(v)), bytesPerSec(median(memcpy))),
		})
	}
	toC, toGo := rs.all("Throughput", "peer=c/wait=block", 64, "msgs/s"), rs.all("Throughput", "peer=go/wait=block", 64, "msgs/s")
	gs = append(gs, &goal{
		what: "64 B one-way with WithWait(Block), into a C receiver ÷ into a Go receiver", target: "≥ 1×",
		ratios: seriesRatio(toC, toGo, div), limit: 1, atLeast: true, unit: "×",
		detail: fmt.Sprintf("%s vs %s msg/s (shm/c/interop BenchmarkThroughput)", count(median(toC)), count(median(toGo))),
		absent: "the C interop benchmarks did not run (no C compiler or cgo?)",
	})
	pq := rs.all("ThroughputPaired", "wait=block", 64, "ratio")
	gs = append(gs, &goal{
		what: "64 B one-way with WithWait(Block), into a C receiver ÷ into a Go receiver, paired in blocks ms apart", target: "≥ 1×",
		ratios: pq, limit: 1, atLeast: true, unit: "×",
		detail: fmt.Sprintf("%s vs %s msg/s; cycles' p10–p90 %s–%s; found the ring empty %.3g (C) and %.3g (Go) a message (shm/c/interop BenchmarkThroughputPaired)",
			count(median(rs.all("ThroughputPaired", "wait=block", 64, "c-msgs/s"))), count(median(rs.all("ThroughputPaired", "wait=block", 64, "go-msgs/s"))),
			ratio(median(rs.all("ThroughputPaired", "wait=block", 64, "ratio-p10"))), ratio(median(rs.all("ThroughputPaired", "wait=block", 64, "ratio-p90"))),
			median(rs.all("ThroughputPaired", "wait=block", 64, "c-rx-waits/msg")), median(rs.all("ThroughputPaired", "wait=block", 64, "go-rx-waits/msg"))),
		absent: "the C interop benchmarks did not run (no C compiler or cgo?)",
	})
	worst, where, seen := worstAllocs(append(append([]string(nil), bench.PingPongTransports...), "shmchan-batch"), rs.all)
	a := &goal{what: "allocations per message, every shmchan transport, both processes", target: "0", limit: 0, unit: "allocs/msg", absent: "the run has no allocation figures", worst: true}
	if seen {
		a.ratios = []float64{worst}
		if worst > 0 {
			a.detail = "worst: " + where
		}
	}
	gs = append(gs, a)
	return gs
}

// worstAllocs is the largest allocation count per message of any round
// trip, send or receive of the shmchan transports among trs, over the values
// vals gives for each (benchmark, transport, size, unit): where it stands,
// and whether vals gave any value at all.
func worstAllocs(trs []string, vals func(bench, transport string, size int, unit string) []float64) (worst float64, where string, seen bool) {
	for _, tr := range trs {
		if !strings.HasPrefix(tr, "shmchan") {
			continue
		}
		for _, size := range bench.Sizes {
			for _, m := range []struct{ bench, unit, what string }{
				{"PingPong", "allocs/op", "round trip"},
				{"Throughput", "allocs/op", "send"},
				{"Throughput", "rx-allocs/op", "receive"},
			} {
				for _, v := range vals(m.bench, tr, size, m.unit) {
					seen = true
					if v > worst {
						worst, where = v, fmt.Sprintf("%s %s %s", tr, m.what, sizeLabel(size))
					}
				}
			}
		}
	}
	return worst, where, seen
}

// goalsTable writes the goals table.
func goalsTable(d *doc, rs *results) {
	var rows [][]string
	for _, g := range goals(rs) {
		_, res := g.result()
		detail := g.detail
		if len(g.ratios) == 0 {
			detail = g.absent
			if detail == "" {
				detail = "the run has no figure for it"
			}
		}
		rows = append(rows, []string{g.what, g.target, g.measured(), res, detail})
	}
	rows = append(rows, []string{"no system call while the peer is not parked", "0", "—", "not measured here", "checked by the shm tests, not by a benchmark"})
	d.table([]string{"goal", "target", "measured", "result", "medians"}, rows)
}

func goalsSection(d *doc, rs *results) {
	d.p("## Goals (issue 16)")
	d.p("")
	d.p("Each goal is a ratio taken within one run of its benchmarks: the suite's and each interleaved")
	d.p("round's (see Machine and commands). *Measured* is the median of those ratios, then their range")
	d.p("and how many runs; *result* judges the median. Latency ratios are raw p50 (or p99.9) ratios, the")
	d.p("clock's share of a sample (%s) included on both sides.", ns(rs.val("Clock", "", -1, "p50-ns")))
	d.p("")
	goalsTable(d, rs)
	f0, f64 := rs.val("PingPong", "floor-atomic", 0, "p50-ns"), rs.val("PingPong", "floor-payload64", 64, "p50-ns")
	d.p("**Protocol against hardware at 64 B.** floor-atomic (one cache line, no payload) %s; floor-payload64", ns(f0))
	d.p("(a 64-byte payload line and a sequence-word line, sync/atomic, no library) %s: the hardware's", ns(f64))
	d.p("price of moving 64 bytes and a flag. Above it, the protocol's share of the 64 B round trip (p50):")
	var parts []string
	for _, tr := range []string{"shmchan-spin", "shmchan-adaptive", "shmchan-zc"} {
		v := rs.val("PingPong", tr, 64, "p50-ns")
		parts = append(parts, fmt.Sprintf("%s %s (%s floor-payload64, %s)", tr, ns(v), ratio(v/f64), signedNs(v-f64)))
	}
	d.p("%s.", strings.Join(parts, "; "))
	d.p("")
}

// signedNs formats a difference of nanoseconds with its sign.
func signedNs(v float64) string {
	if v < 0 {
		return "−" + ns(-v)
	}
	return "+" + ns(v)
}
