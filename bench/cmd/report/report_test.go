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
