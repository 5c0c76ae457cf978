package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The prototypes of bench/proto_test.go, each isolating one cache-line
// effect: the table shows, per effect, the two variants' medians and the
// ratio B ÷ A taken within each run (median and range). It goes into
// docs/benchmarks.md and, between markers, into docs/design.md ("Where the
// cache lines go").

// protoRow compares variant B with variant A of one prototype.
type protoRow struct {
	effect string
	a, b   string // the variants, as the table names them
	bench  string // ProtoTurn, ProtoRing, ...
	ta, tb string // their transport (the parameters other than size)
	size   int
	unit   string // p50-ns or msg/s
}

var protoRows = []protoRow{
	{"(a) a payload in the word's line", "empty word", "56 B + word, 1 line", "ProtoTurn", "turn=line1-empty", "turn=line1-56", -1, "p50-ns"},
	{"(a) one line against two", "56 B + word, 1 line", "64 B line + word line", "ProtoTurn", "turn=line1-56", "turn=line2-seqlast", -1, "p50-ns"},
	{"(a) the word first or last", "word in line B (last)", "word in line A (first)", "ProtoTurn", "turn=line2-seqlast", "turn=line2-seqfirst", -1, "p50-ns"},
	{"(a) lines shared by both directions", "2 shared lines", "2 lines per direction", "ProtoTurn", "turn=line2-seqlast", "turn=line2-split", -1, "p50-ns"},
	{"(b) record layout, 8 B round trip", "packed (16 B)", "aligned (64 B)", "ProtoRing", "workload=pingpong/layout=packed", "workload=pingpong/layout=aligned", 8, "p50-ns"},
	{"(b) record layout, 64 B round trip", "packed (72 B)", "aligned (128 B)", "ProtoRing", "workload=pingpong/layout=packed", "workload=pingpong/layout=aligned", 64, "p50-ns"},
	{"(b) record layout, 8 B one-way", "packed (16 B)", "aligned (64 B)", "ProtoRing", "workload=throughput/layout=packed", "workload=throughput/layout=aligned", 8, "msg/s"},
	{"(b) record layout, 64 B one-way", "packed (72 B)", "aligned (128 B)", "ProtoRing", "workload=throughput/layout=packed", "workload=throughput/layout=aligned", 64, "msg/s"},
	{"(c) count published every k, 64 B one-way", "k = 1", "k = 8", "ProtoPublish", "k=1", "k=8", 64, "msg/s"},
	{"(c) count published every k, 64 B one-way", "k = 1", "k = 32", "ProtoPublish", "k=1", "k=32", 64, "msg/s"},
	{"(d) receiver copies 64 B out, packed, round trip", "in place", "copy", "ProtoCopy", "workload=pingpong/layout=packed/api=inplace", "workload=pingpong/layout=packed/api=copy", 64, "p50-ns"},
	{"(d) receiver copies 64 B out, aligned, round trip", "in place", "copy", "ProtoCopy", "workload=pingpong/layout=aligned/api=inplace", "workload=pingpong/layout=aligned/api=copy", 64, "p50-ns"},
	{"(d) receiver copies 64 B out, packed, one-way", "in place", "copy", "ProtoCopy", "workload=throughput/layout=packed/api=inplace", "workload=throughput/layout=packed/api=copy", 64, "msg/s"},
	{"(d) receiver copies 64 B out, aligned, one-way", "in place", "copy", "ProtoCopy", "workload=throughput/layout=aligned/api=inplace", "workload=throughput/layout=aligned/api=copy", 64, "msg/s"},
	{"(e) time.Now every 64 spins", "no clock", "clock", "ProtoTurn", "turn=line1-empty", "turn=line1-empty-clock", -1, "p50-ns"},
}

// protoTable writes the prototypes table, or a line saying the run has none.
func protoTable(d *doc, rs *results) {
	var rows [][]string
	for _, r := range protoRows {
		a, b := rs.all(r.bench, r.ta, r.size, r.unit), rs.all(r.bench, r.tb, r.size, r.unit)
		if len(a) == 0 && len(b) == 0 {
			continue
		}
		f := ns
		if r.unit == "msg/s" {
			f = func(v float64) string { return count(v) + " msg/s" }
		}
		q := seriesRatio(b, a, div)
		cell := "—"
		if len(q) > 0 {
			cell = fmt.Sprintf("%s (%s..%s)", ratio(median(q)), ratio(slices.Min(q)), ratio(slices.Max(q)))
		}
		what := "p50 round trip"
		if r.unit == "msg/s" {
			what = "one-way"
		}
		rows = append(rows, []string{r.effect, r.a, r.b, what, f(median(a)), f(median(b)), cell, fmt.Sprint(len(q))})
	}
	if len(rows) == 0 {
		d.p("This run has no prototype figures (BenchmarkProto*).")
		d.p("")
		return
	}
	d.table([]string{"effect", "A", "B", "measure", "A (median)", "B (median)", "B ÷ A", "runs"}, rows)
}

// loadLine says where and under which load the figures were taken.
func loadLine(m *machine) string {
	if m.from != "" {
		return fmt.Sprintf("the saved run `%s` (%s), rewritten on %s", m.from, m.cpu, m.date.Format("2006-01-02 15:04 MST"))
	}
	s := fmt.Sprintf("`make bench` on %s, %s", m.date.Format("2006-01-02 15:04 MST"), m.cpu)
	if m.load[0] != "" {
		s += fmt.Sprintf(", load average %s at the start and %s at the end", m.load[0], m.load[1])
	}
	if m.pin != "" {
		s += fmt.Sprintf("; the two processes' measuring threads pinned to CPUs %s (SHMCHAN_BENCH_PIN)", strings.ReplaceAll(m.pin, ",", " and "))
	}
	if m.from != "" {
		s += fmt.Sprintf(" (regenerated from %s)", m.from)
	}
	return s
}

func protoSection(d *doc, rs *results) {
	d.p("## Where the cache lines go (prototypes)")
	d.p("")
	d.p("Minimal two-process programs (bench/proto_test.go), no library code, each isolating one")
	d.p("effect; docs/design.md explains them. B ÷ A is taken within each run, then the median and")
	d.p("range; above 1× B is slower for a round trip, faster for one-way.")
	d.p("")
	protoTable(d, rs)
}

// designBlock is the generated part of docs/design.md: the prototypes table
// and the run it comes from.
func designBlock(rs *results, m *machine) []byte {
	var d doc
	n := protoRuns(rs)
	runs := "runs"
	if n == 1 {
		runs = "run"
	}
	d.p("Measured by %s; %d %s of each prototype.", loadLine(m), n, runs)
	d.p("")
	protoTable(&d, rs)
	return d.Bytes()
}

func protoRuns(rs *results) int {
	return len(rs.all("ProtoTurn", "turn=line1-empty", -1, "p50-ns"))
}

// readmeBlock is the generated part of README.md: the headline table and
// the goals, from the same run as docs/benchmarks.md.
func readmeBlock(rs *results, m *machine) []byte {
	var d doc
	if m.from != "" {
		d.p("From %s.", loadLine(m))
	} else {
		d.p("One run of %s.", loadLine(m))
	}
	if m.elapsed > 0 {
		d.p("The run took %s.", m.elapsed.Round(time.Second))
	}
	d.p("[docs/benchmarks.md](docs/benchmarks.md) has all sizes, percentiles and the raw output.")
	d.p("")
	headlineTable(&d, rs)
	d.p("The goals of issue 16, each a ratio within a run, median (range, runs) over the suite's run and")
	d.p("the interleaved rounds:")
	d.p("")
	goalsTable(&d, rs)
	return d.Bytes()
}
