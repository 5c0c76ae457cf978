package main

import (
	"fmt"
	"slices"

	"github.com/shmchan/shmchan/bench"
)

// The paired round trips of bench/paired_test.go: every arm of
// bench.PairedArms in one pair of processes, in blocks a few milliseconds
// apart, so that each ratio to the floor is taken at one speed of the host.

// pairedSection writes the table of BenchmarkPaired, or nothing if the run
// has none.
func pairedSection(d *doc, rs *results) {
	if len(rs.all("Paired", "floor-atomic", 0, "p50-ns")) == 0 {
		return
	}
	runs := len(rs.all("Paired", "floor-atomic", 0, "p50-ns"))
	d.p("## Paired round trips")
	d.p("")
	d.p("BenchmarkPaired (bench/paired_test.go) runs the floors and shmchan's round trips in one pair")
	d.p("of processes, a block of 1000 round trips each in turn, 300 cycles, so that each ratio to")
	d.p("floor-atomic is taken between blocks a few milliseconds apart: the host runs at two speeds")
	d.p("that change within a second (docs/design.md, \"The machine's two speeds\"). A cycle counts as")
	d.p("slow when its floor block took more than 1.6× the 10th percentile of the floor's blocks. The")
	d.p("first half of each block is timed round trip by round trip, for its p50 (which includes the")
	d.p("clock's share on both sides of a ratio, as in the goals table); the second half is timed as a")
	d.p("whole, for its mean, which has neither the clock's cost nor the 10 ns steps that quantise the p50s.")
	d.p("Each figure is the")
	d.p("median over the %d rounds of the run's median over its cycles.", runs)
	d.p("")
	rows := [][]string{}
	cell := func(tr string, size int, unit string, f func(float64) string) string {
		vs := rs.all("Paired", tr, size, unit)
		if len(vs) == 0 {
			return "—"
		}
		if len(vs) == 1 {
			return f(vs[0])
		}
		return fmt.Sprintf("%s (%s..%s)", f(median(vs)), f(slices.Min(vs)), f(slices.Max(vs)))
	}
	for _, arm := range bench.PairedArms {
		rows = append(rows, []string{
			arm.Transport, sizeLabel(arm.Size),
			cell(arm.Transport, arm.Size, "mean-ns", ns),
			cell(arm.Transport, arm.Size, "mean-ratio", ratio),
			cell(arm.Transport, arm.Size, "p50-ns", ns),
			cell(arm.Transport, arm.Size, "ratio", ratio),
			cell(arm.Transport, arm.Size, "ratio-p10", ratio) + " – " + cell(arm.Transport, arm.Size, "ratio-p90", ratio),
			cell(arm.Transport, arm.Size, "fast-ratio", ratio),
			cell(arm.Transport, arm.Size, "slow-ratio", ratio),
			cell(arm.Transport, arm.Size, "payload64-ratio", ratio),
		})
	}
	d.table([]string{"arm", "size", "mean", "mean ÷ floor-atomic", "p50", "p50 ÷ floor-atomic", "p50 ratio, cycles' p10 – p90", "fast cycles", "slow cycles", "÷ floor-payload64"}, rows)
	d.p("Slow cycles: %s of the floor's blocks (median over the rounds).", cell("floor-atomic", 0, "slow-share", func(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) }))
	d.p("floor-atomic+work is floor-atomic with one Send and one Recv of 8 bytes through a channel of")
	d.p("the process's own added to each side's half of a turn: the library's work per message on the")
	d.p("round trip's critical path, with no line of it shared between the processes. shmchan-spin at")
	d.p("8 B against it shows what the cross-process protocol adds beyond that work.")
	d.p("")
}
