package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/shmchan/shmchan/bench"
)

// group is one invocation of the test binary: one top-level benchmark.
type group struct {
	bench     string // BenchmarkPingPong, ...
	benchtime string
	count     int // benchmarks it reports, for the progress line
}

// plan lists the groups of the bounded suite.
func plan(cfg *config) []group {
	n := len(bench.Sizes)
	return []group{
		{"BenchmarkClock", "0.2s", 1},
		{"BenchmarkMemcpy", "0.2s", n},
		{"BenchmarkPingPong", cfg.benchtime, len(bench.Floors) + n*len(bench.PingPongTransports)},
		{"BenchmarkThroughput", cfg.benchtime, n * len(bench.ThroughputTransports)},
		{"BenchmarkIntegrity", cfg.benchtime, n * len(bench.IntegrityTransports)},
		{"BenchmarkIdle", cfg.idletime, len(bench.IdleTransports)},
		{"BenchmarkConnRoundTrip", cfg.benchtime, 2 * len(serviceConnTransports)},
		{"BenchmarkGRPCUnary", cfg.benchtime, len(grpcTransports)},
	}
}

// command returns the go test command line equivalent to running g.
func (g group) command(pkg string) string {
	return fmt.Sprintf("go test -run='^$' -bench='^%s$' -benchtime=%s %s", g.bench, g.benchtime, pkg)
}

// runSuite builds the test binary once and runs every group, echoing a
// progress line per result. It returns the raw output of all groups, and an
// error if any group failed (the output of the others is still returned).
func runSuite(ctx context.Context, cfg *config, groups []group) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "shmchan-report")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "bench.test")
	fmt.Fprintf(os.Stderr, "report: building %s\n", cfg.pkg)
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, cfg.pkg)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("go test -c %s: %w", cfg.pkg, err)
	}

	total := 0
	for _, g := range groups {
		total += g.count
	}
	p := &progress{total: total, start: time.Now()}
	var raw bytes.Buffer
	var errs []error
	for i, g := range groups {
		fmt.Fprintf(os.Stderr, "report: %s (%d benchmarks, -benchtime=%s)\n", g.bench, g.count, g.benchtime)
		args := []string{"-test.run=^$", "-test.bench=^" + g.bench + "$", "-test.benchtime=" + g.benchtime, "-test.timeout=9m"}
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = tmp
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return raw.Bytes(), err
		}
		if err := cmd.Start(); err != nil {
			return raw.Bytes(), err
		}
		// Keep one header (goos, goarch, pkg, cpu) at the top of the raw
		// output, as benchstat expects, and drop the per-run PASS/ok lines.
		scanErr := p.copy(&raw, out, i == 0)
		if err := errors.Join(cmd.Wait(), scanErr); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", g.bench, err))
		}
		if ctx.Err() != nil {
			return raw.Bytes(), ctx.Err()
		}
	}
	return raw.Bytes(), errors.Join(errs...)
}

// progress counts finished benchmarks.
type progress struct {
	total, done int
	start       time.Time
}

func (p *progress) copy(raw *bytes.Buffer, r io.Reader, header bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case isHeader(line):
			if header {
				fmt.Fprintln(raw, line)
			}
		case strings.HasPrefix(line, "Benchmark"):
			fmt.Fprintln(raw, line)
			if r, ok := parseLine(line); ok {
				p.done++
				fmt.Fprintf(os.Stderr, "[%3d/%d %s] %s\n", p.done, p.total, clock(time.Since(p.start)), r.summary())
			} else {
				fmt.Fprintln(os.Stderr, line)
			}
		case line == "PASS" || strings.HasPrefix(line, "ok "):
		default:
			// Failures and logs: keep them in the raw output and show them.
			fmt.Fprintln(raw, line)
			fmt.Fprintln(os.Stderr, line)
		}
	}
	return sc.Err()
}

func isHeader(line string) bool {
	for _, k := range []string{"goos:", "goarch:", "pkg:", "cpu:"} {
		if strings.HasPrefix(line, k) {
			return true
		}
	}
	return false
}

func clock(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%02d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}
