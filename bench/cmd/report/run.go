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

// group is one invocation of a test binary: one top-level benchmark, or the
// part of several that a round needs.
type group struct {
	bench     string // BenchmarkPingPong, or a -bench pattern
	benchtime string
	count     int  // benchmarks it reports, for the progress line
	interop   bool // run by the C interop package's binary (../shm/c/interop), not bench's
	round     int  // 1.. for the interleaved rounds, 0 for the suite
}

// The interleaved rounds: the benchmarks that the goals of issue 16 and
// the prototypes table need, each run once per round, rounds one after the
// other, so that every ratio can be taken within a round and summarised by
// its median and range over the rounds (slow phases of a shared host then
// hit both sides of a ratio, or one round of several).
var (
	roundPingPong   = "^BenchmarkPingPong$/^transport=(floor-atomic|floor-payload64|shmchan-spin|shmchan-adaptive|shmchan-zc|shmchan-zc-read)$"
	roundThroughput = "^BenchmarkThroughput$/^transport=(shmchan-spin|shmchan-adaptive|shmchan-zc|shmchan-batch)$/^size=(64|1048576)$"
	roundMemcpy     = "^BenchmarkMemcpy$"
	roundProto      = "^BenchmarkProto"
	roundPaired     = "^BenchmarkPaired$"
	// The gRPC goal's transports (issue 13), so that its ratio, too, is a
	// median over rounds: one run of a few thousand calls moves by 2× on
	// this machine.
	roundGRPC = "^BenchmarkGRPCUnary$/^transport=(shm-block|unix|bufconn)$"
	// The C interop package's one-way 64-byte stream with WithWait(Block),
	// into a C and into a Go receiver.
	roundInterop = "^BenchmarkThroughput$/^peer=(c|go)$/^wait=block$"
	// The same stream into a C and a Go receiver in turn, in blocks
	// milliseconds apart in one run (shm/c/interop/paired_test.go).
	roundInteropPaired = "^BenchmarkThroughputPaired$"
)

// plan lists the groups of the bounded suite, then the rounds.
func plan(cfg *config) []group {
	n := len(bench.Sizes)
	gs := []group{
		{bench: "BenchmarkClock", benchtime: "0.2s", count: 1},
		{bench: "BenchmarkMemcpy", benchtime: "0.2s", count: n},
		{bench: "BenchmarkPingPong", benchtime: cfg.benchtime, count: len(bench.Floors) + len(bench.PayloadFloorNames) + n*len(bench.PingPongTransports)},
		{bench: "BenchmarkThroughput", benchtime: cfg.benchtime, count: n * len(bench.ThroughputTransports)},
		{bench: "BenchmarkIntegrity", benchtime: cfg.benchtime, count: n * len(bench.IntegrityTransports)},
		{bench: "BenchmarkIdle", benchtime: cfg.idletime, count: len(bench.IdleTransports)},
		{bench: "BenchmarkConnRoundTrip", benchtime: cfg.benchtime, count: 2 * len(serviceConnTransports)},
		{bench: "BenchmarkGRPCUnary", benchtime: cfg.benchtime, count: len(grpcTransports)},
	}
	for r := 1; r <= cfg.rounds; r++ {
		gs = append(gs,
			group{bench: roundPingPong, benchtime: cfg.roundtime, count: 2 + 4*n, round: r},
			group{bench: roundThroughput, benchtime: cfg.roundtime, count: 7, round: r},
			group{bench: roundMemcpy, benchtime: "0.1s", count: n, round: r},
			group{bench: roundProto, benchtime: "0.1s", count: protoCount, round: r},
			group{bench: roundPaired, benchtime: "1x", count: len(bench.PairedArms), round: r},
			group{bench: roundInterop, benchtime: cfg.roundtime, count: 2, round: r, interop: true},
			group{bench: roundInteropPaired, benchtime: "1x", count: 1, round: r, interop: true},
			group{bench: roundGRPC, benchtime: cfg.roundtime, count: 3, round: r},
		)
	}
	return gs
}

// protoCount is how many benchmarks BenchmarkProto* reports (bench/proto_test.go).
const protoCount = 25

// command returns the go test command line equivalent to running g.
func (g group) command(pkg string) string {
	pat := g.bench
	if !strings.HasPrefix(pat, "^") {
		pat = "^" + pat + "$"
	}
	if g.interop {
		return fmt.Sprintf("(cd .. && go test -run='^$' -bench='%s' -benchtime=%s ./shm/c/interop)", pat, g.benchtime)
	}
	return fmt.Sprintf("go test -run='^$' -bench='%s' -benchtime=%s %s", pat, g.benchtime, pkg)
}

// commands returns the distinct command lines of groups, in order: the
// rounds repeat the same few.
func commands(groups []group, pkg string) (suite []string, round []string, rounds int) {
	for _, g := range groups {
		switch {
		case g.round == 0:
			suite = append(suite, g.command(pkg))
		case g.round == 1:
			round = append(round, g.command(pkg))
		}
		rounds = max(rounds, g.round)
	}
	return suite, round, rounds
}

// runSuite builds the test binaries once and runs every group, echoing a
// progress line per result. It returns the raw output of all groups, and an
// error if any group of the suite failed (the output of the others is still
// returned). The C interop binary is optional: if it does not build (no C
// compiler, no cgo), its groups are skipped and the report says "not run".
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
	interop := filepath.Join(tmp, "interop.test")
	if cfg.rounds > 0 {
		fmt.Fprintf(os.Stderr, "report: building ../shm/c/interop\n")
		build := exec.CommandContext(ctx, "go", "test", "-c", "-o", interop, "./shm/c/interop")
		build.Dir = ".."
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "report: the C interop benchmarks will not run: go test -c ./shm/c/interop: %v\n", err)
			interop = ""
		}
	}

	pin := pinCPUs(cfg.pin)
	if pin != "" {
		fmt.Fprintf(os.Stderr, "report: hot threads pinned: SHMCHAN_BENCH_PIN=%s\n", pin)
	}
	total := 0
	for _, g := range groups {
		total += g.count
	}
	p := &progress{total: total, start: time.Now()}
	var raw bytes.Buffer
	var errs []error
	for i, g := range groups {
		pat, exe := g.bench, bin
		if !strings.HasPrefix(pat, "^") {
			pat = "^" + pat + "$"
		}
		if g.interop {
			if exe = interop; exe == "" {
				p.done += g.count
				continue
			}
		}
		what := fmt.Sprintf("%s (%d benchmarks, -benchtime=%s)", g.bench, g.count, g.benchtime)
		if g.round > 0 {
			what = fmt.Sprintf("round %d of %d: %s", g.round, cfg.rounds, what)
		}
		fmt.Fprintf(os.Stderr, "report: %s\n", what)
		args := []string{"-test.run=^$", "-test.bench=" + pat, "-test.benchtime=" + g.benchtime, "-test.timeout=9m"}
		cmd := exec.CommandContext(ctx, exe, args...)
		cmd.Dir = tmp
		if pin != "" && !g.interop {
			cmd.Env = append(os.Environ(), "SHMCHAN_BENCH_PIN="+pin)
		}
		if g.interop {
			cmd.Dir = "../shm/c/interop" // its tests read testdata/ and ../shmchan.c
		}
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
		if i == 0 && pin != "" {
			fmt.Fprintf(&raw, "pin: %s\n", pin)
		}
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
	for _, k := range []string{"goos:", "goarch:", "pkg:", "cpu:", "pin:"} {
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

// pinCPUs resolves -pin to a SHMCHAN_BENCH_PIN value, or "" for none: the
// benchmarks then bind the parent's and the child's measuring thread each to
// its own CPU (bench/pin_linux_test.go), as a latency-sensitive deployment would,
// so that the two never share one and the scheduler never moves them.
func pinCPUs(v string) string {
	switch v {
	case "off", "":
		return ""
	case "auto":
		cpus := allowedCPUs()
		if len(cpus) < 2 {
			return ""
		}
		return fmt.Sprintf("%d,%d", cpus[0], cpus[1])
	}
	return v
}
