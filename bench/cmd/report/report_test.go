package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want *result
	}{
		{
			"BenchmarkPingPong/transport=floor-atomic/size=0-2  \t 5700\t 145509 ns/op\t 441.0 p50-ns",
			&result{bench: "PingPong", transport: "floor-atomic", size: 0, iters: 5700, metrics: map[string]float64{"ns/op": 145509, "p50-ns": 441}},
		},
		{
			"BenchmarkIdle/transport=shmchan-spin-2 \t 12\t 250000000 ns/op\t 31.58 cpu-%",
			&result{bench: "Idle", transport: "shmchan-spin", size: -1, iters: 12, metrics: map[string]float64{"ns/op": 250000000, "cpu-%": 31.58}},
		},
		{
			// GOMAXPROCS=1 prints no suffix; the transport keeps its dash.
			"BenchmarkIdle/transport=shmchan-block \t 12\t 250000000 ns/op",
			&result{bench: "Idle", transport: "shmchan-block", size: -1, iters: 12, metrics: map[string]float64{"ns/op": 250000000}},
		},
		{
			"BenchmarkThroughput/transport=uds/size=64-2 \t 90084\t 2750 ns/op\t 23.27 MB/s\t 363627 msg/s\t 0 rx-allocs/op",
			&result{bench: "Throughput", transport: "uds", size: 64, iters: 90084, metrics: map[string]float64{"ns/op": 2750, "MB/s": 23.27, "msg/s": 363627, "rx-allocs/op": 0}},
		},
	} {
		got, ok := parseLine(tc.line)
		if !ok {
			t.Fatalf("parseLine(%q) failed", tc.line)
		}
		if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(result{})); diff != "" {
			t.Errorf("parseLine(%q) mismatch (-want +got):\n%s", tc.line, diff)
		}
	}
	for _, line := range []string{"PASS", "ok  \tgithub.com/shmchan/shmchan/bench\t1.2s", "BenchmarkX-2 \t", "--- FAIL: BenchmarkX"} {
		if r, ok := parseLine(line); ok {
			t.Errorf("parseLine(%q) = %+v, want no result", line, r)
		}
	}
}

// TestReportFromSample regenerates the report from a saved partial run:
// every section is there, figures the run lacks read "—" or "not
// measured", and both charts are written.
func TestReportFromSample(t *testing.T) {
	dir := t.TempDir()
	cfg := &config{
		md: filepath.Join(dir, "docs", "benchmarks.md"), img: filepath.Join(dir, "docs", "img"),
		in: filepath.Join("testdata", "sample.txt"), pkg: ".", benchtime: "0.5s", idletime: "12x", format: "svg",
	}
	if err := run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(cfg.md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"## Headline", "## Targets", "## Round trip (ping-pong)", "## One-way throughput",
		"## Correctness under load", "## Idle cost", "![Round-trip latency per transport and size](img/latency.svg)",
		"| 64 B RTT p50, spin |", "| 64 B round trip, p50 |", "—", "go test -run='^$' -bench='^BenchmarkPingPong$' -benchtime=0.5s .",
		"the clock's share of a sample, 21 ns",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, chart := range []string{"latency.svg", "throughput.svg"} {
		b, err := os.ReadFile(filepath.Join(cfg.img, chart))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "<svg") {
			t.Errorf("%s is not an SVG", chart)
		}
	}
}

// TestServiceTargets judges the two goals of the services issue from the
// services benchmarks' lines: a miss and a pass of each.
func TestServiceTargets(t *testing.T) {
	for _, tc := range []struct {
		name, lines string
		want        []string
	}{
		{"miss", `BenchmarkConnRoundTrip/transport=shm-conn/size=64-2   5000  60360 ns/op  2.12 MB/s  39208 p50-ns  165657 p99-ns
BenchmarkConnRoundTrip/transport=shm-channel/size=64-2   5000  3349 ns/op  38.22 MB/s  301.0 p50-ns  360.0 p99-ns
BenchmarkGRPCUnary/transport=shm-2   3000  132635 ns/op  92738 p50-ns  664377 p99-ns
BenchmarkGRPCUnary/transport=shm-block-2   3000  105590 ns/op  74971 p50-ns  455436 p99-ns
BenchmarkGRPCUnary/transport=unix-2  3000  84862 ns/op  74650 p50-ns  235219 p99-ns
BenchmarkGRPCUnary/transport=bufconn-2  3000  64862 ns/op  59720 p50-ns  135219 p99-ns
`, []string{"## Services: Conn and gRPC", "| gRPC unary call | shm |", "| gRPC unary call | shm-block |", "| gRPC unary call | bufconn |", "default wait 92.7 µs",
			"bufconn (gRPC alone) 59.7 µs: best possible 1.25×, measured 1.00×",
			"| gRPC unary call p50, shm vs unix socket | shm ≥ 2× faster |", "unix/shm ratio 1.00 < 2.00 (2.01× short)",
			"| 64 B Conn round trip p50 vs the raw channel | ≤ 1.5× the channel |", "Conn/channel ratio 130 > 1.50 (86.8× over)"}},
		{"pass", `BenchmarkConnRoundTrip/transport=shm-conn/size=64-2   5000  500 ns/op  2.12 MB/s  400 p50-ns  900 p99-ns
BenchmarkConnRoundTrip/transport=shm-channel/size=64-2   5000  400 ns/op  38.22 MB/s  300 p50-ns  360.0 p99-ns
BenchmarkGRPCUnary/transport=shm-block-2   3000  30000 ns/op  20000 p50-ns  45000 p99-ns
BenchmarkGRPCUnary/transport=unix-2  3000  84862 ns/op  74650 p50-ns  235219 p99-ns
`, []string{"shm (Block) 20.0 µs, unix 74.7 µs: shm 3.73× faster; default wait —", "**pass**"}},
		{"rounds", `BenchmarkGRPCUnary/transport=shm-block-2   5000  137567 ns/op  118055 p50-ns  393896 p99-ns
BenchmarkGRPCUnary/transport=unix-2  5000  185695 ns/op  166638 p50-ns  657783 p99-ns
BenchmarkGRPCUnary/transport=shm-block-2   5000  137567 ns/op  80000 p50-ns  393896 p99-ns
BenchmarkGRPCUnary/transport=unix-2  5000  185695 ns/op  200000 p50-ns  657783 p99-ns
BenchmarkGRPCUnary/transport=shm-block-2   5000  137567 ns/op  100000 p50-ns  393896 p99-ns
BenchmarkGRPCUnary/transport=unix-2  5000  185695 ns/op  150000 p50-ns  657783 p99-ns
`, []string{"shm (Block) 100 µs, unix 167 µs: shm 1.50× faster (median of 3 runs, 1.41×..2.50×)"}},
		{"switches", `BenchmarkGRPCUnary/transport=shm-block-2   5000  137567 ns/op  8.913 cs/op  118055 p50-ns  393896 p99-ns
BenchmarkGRPCUnary/transport=unix-2  5000  185695 ns/op  12.35 cs/op  166638 p50-ns  657783 p99-ns
BenchmarkGRPCUnary/transport=bufconn-2  5000  40030 ns/op  0.4190 cs/op  29564 p50-ns  232505 p99-ns
`, []string{"| gRPC unary call | unix | 167 µs | 658 µs | 186 µs | 12.35 |",
			"context switches per call shm (Block) 8.91, unix 12.35: 9.93 µs (shm) and 11.1 µs (unix) of p50 per switch above bufconn, and 2× needs ≤ 4.84 per call at the socket's cost"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := parse([]byte(tc.lines))
			if err != nil {
				t.Fatal(err)
			}
			md := string(markdown(rs, &machine{}, nil))
			for _, want := range tc.want {
				if !strings.Contains(md, want) {
					t.Errorf("report lacks %q", want)
				}
			}
			if tc.name == "pass" && strings.Contains(md, "Conn/channel ratio") {
				t.Errorf("a passing goal has a miss: %s", md)
			}
		})
	}
}

// TestGoals judges the goals of issue 16 from five rounds: each ratio is
// taken within a round and shown as median (min..max, runs).
func TestGoals(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "rounds.txt"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := rs.val("PingPong", "floor-atomic", 0, "p50-ns"); got != 145 {
		t.Errorf("floor-atomic p50 = %v, want the median of the rounds, 145", got)
	}
	md := string(markdown(rs, &machine{}, nil))
	for _, want := range []string{
		"## Goals (issue 16)",
		// 170/140, 200/150, 180/145, 175/160, 190/142: median 1.24.
		"| 8 B round trip p50, shmchan-spin ÷ floor-atomic | ≤ 1.25× | 1.24× (1.09×..1.34×, 5 runs) | **pass** | 180 ns vs 145 ns |",
		"| 64 B round trip p50, shmchan-spin ÷ floor-atomic | ≤ 1.50× | 2.00× (2.00×..2.00×, 5 runs) | **miss** |",
		"| 8 B round trip p50, shmchan-adaptive ÷ floor-atomic | ≤ 1.25× | — | not run |",
		"| 64 B round trip p99.9, shmchan-spin ÷ floor-atomic's p99.9 | ≤ 3.00× | 4.00× (4.00×..4.00×, 5 runs) | **miss** |",
		"| 64 B one-way, shmchan-spin (one publication per message) | ≥ 30 M msg/s | 33.0 M msg/s (31.0..35.0, 5 runs) | **pass** |",
		"| 64 B one-way, shmchan-batch (batches) | ≥ 60 M msg/s | — | not run | the run has no shmchan-batch transport |",
		"| 1 MiB one-way, shmchan-adaptive ÷ single-core memcpy | ≥ 0.8× | 0.76× (0.75×..0.77×, 5 runs) | **miss** |",
		"into a C receiver ÷ into a Go receiver | ≥ 1× | 0.63× (0.63×..0.63×, 5 runs) | **miss** |",
		"| 64 B round trip p50, copying (adaptive) ÷ (1.1 × zero-copy + 2 copies) | ≤ 1× |",
		"(a 64-byte payload line and a sequence-word line, sync/atomic, no library) 205 ns", "shmchan-spin 290 ns (1.41× floor-payload64, +85 ns)",
		"## Where the cache lines go (prototypes)",
		"| (e) time.Now every 64 spins | no clock | clock | p50 round trip | 145 ns | 150 ns |",
		"| (c) count published every k, 64 B one-way | k = 1 | k = 32 | one-way | 25.0 M msg/s | 70.0 M msg/s | 2.80× (2.80×..2.80×) | 5 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(md)
	}
}

// TestRewrite replaces the generated block of a README and of the design
// notes between their markers, and refuses a file without them.
func TestRewrite(t *testing.T) {
	dir := t.TempDir()
	readme := filepath.Join(dir, "README.md")
	body := "# x\n\n" + readmeBegin + "\nold table\n" + readmeEnd + "\n\nafter\n"
	if err := os.WriteFile(readme, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rewrite(readme, readmeBegin, readmeEnd, []byte("new table\n")); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(readme)
	want := "# x\n\n" + readmeBegin + "\nnew table\n" + readmeEnd + "\n\nafter\n"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("rewrite mismatch (-want +got):\n%s", diff)
	}
	if err := rewrite(readme, designBegin, designEnd, []byte("x\n")); err == nil {
		t.Errorf("rewrite without markers succeeded")
	}
	// The repository's own files carry the markers that make bench needs.
	for _, c := range []struct{ path, begin, end string }{
		{"../../../README.md", readmeBegin, readmeEnd},
		{"../../../docs/design.md", designBegin, designEnd},
	} {
		b, err := os.ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), c.begin+"\n") || !strings.Contains(string(b), c.end) {
			t.Errorf("%s lacks the markers %q and %q", c.path, c.begin, c.end)
		}
	}
}
