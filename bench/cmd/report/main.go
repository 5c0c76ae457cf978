// Command report runs shmchan's benchmark suite (package bench) within a
// bounded time and writes the results: docs/benchmarks.md with tables,
// ratios and the targets of the benchmarks issue, the charts
// docs/img/latency.svg and docs/img/throughput.svg, and the raw
// `go test -bench` output in bench/results/benchmarks.txt, which benchstat
// reads.
//
// Usage, from bench/ (the benchmark module's root; make bench runs the first):
//
//	go run ./cmd/report                  # run the suite (a few minutes), write the files
//	go run ./cmd/report -in old.txt      # rewrite the report from saved output
//	go run ./cmd/report -benchtime=1s    # longer runs, steadier numbers
//	go run ./cmd/report -quick           # a check that everything runs (figures worthless; writes under $TMPDIR/shmchan-quick)
//
// After the suite it runs -rounds interleaved rounds of the benchmarks that
// the goals of issue 16 and the prototypes need; each goal's ratio is taken
// within every round and shown as the median and range over the rounds. It
// rewrites the benchmark table of README.md and the prototypes table of
// docs/design.md between their markers, so that they agree with
// docs/benchmarks.md.
//
// It prints a progress line per finished benchmark on standard error.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.md, "md", "../docs/benchmarks.md", "the report to write")
	flag.StringVar(&cfg.img, "img", "../docs/img", "directory for the charts")
	flag.StringVar(&cfg.raw, "raw", "results/benchmarks.txt", "where to save the raw `go test -bench` output")
	flag.StringVar(&cfg.in, "in", "", "read raw output from this file instead of running the suite")
	flag.StringVar(&cfg.pkg, "pkg", ".", "the benchmark package")
	flag.StringVar(&cfg.benchtime, "benchtime", "0.5s", "-benchtime of the ping-pong, throughput and integrity benchmarks")
	flag.StringVar(&cfg.idletime, "idletime", "12x", "-benchtime of the idle benchmark (each op is 250ms idle)")
	flag.StringVar(&cfg.format, "format", "svg", "chart format: svg or png")
	flag.IntVar(&cfg.rounds, "rounds", 5, "interleaved rounds of the goal and prototype benchmarks, after the suite")
	flag.StringVar(&cfg.roundtime, "roundtime", "0.2s", "-benchtime of each benchmark in a round")
	flag.StringVar(&cfg.readme, "readme", "../README.md", "the README whose benchmark table to rewrite (between "+readmeBegin+" and "+readmeEnd+"); empty: leave it")
	flag.StringVar(&cfg.design, "design", "../docs/design.md", "the design notes whose prototypes table to rewrite (between "+designBegin+" and "+designEnd+"); empty: leave it")
	flag.StringVar(&cfg.pin, "pin", "off", "SHMCHAN_BENCH_PIN for the bench binary: the CPUs of the parent's and the child's hot thread (\"0,1\"), \"auto\" (the first two CPUs this process may run on, if it has two) or \"off\"")
	quick := flag.Bool("quick", false, "a quick check that everything runs: -benchtime=0.02s -roundtime=0.02s -idletime=2x -rounds=2 (figures worthless), writing under $TMPDIR/shmchan-quick and not README.md or design.md unless told")
	flag.Parse()
	if *quick {
		cfg.benchtime, cfg.roundtime, cfg.idletime, cfg.rounds = "0.02s", "0.02s", "2x", 2
		// Its figures are worthless: unless told otherwise, it writes under
		// the temporary directory and leaves README.md and design.md alone.
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		dir := filepath.Join(os.TempDir(), "shmchan-quick")
		for _, f := range []struct {
			name string
			p    *string
			v    string
		}{
			{"md", &cfg.md, filepath.Join(dir, "benchmarks.md")}, {"img", &cfg.img, filepath.Join(dir, "img")},
			{"raw", &cfg.raw, filepath.Join(dir, "benchmarks.txt")}, {"readme", &cfg.readme, ""}, {"design", &cfg.design, ""},
		} {
			if !set[f.name] {
				*f.p = f.v
			}
		}
	}
	if cfg.format != "svg" && cfg.format != "png" {
		fmt.Fprintf(os.Stderr, "report: -format=%s: want svg or png\n", cfg.format)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

type config struct {
	md, img, raw, in, pkg string
	benchtime, idletime   string
	format                string
	rounds                int
	roundtime             string
	readme, design        string
	pin                   string // -pin: "auto", "off" or "P,C"
}

func run(ctx context.Context, cfg *config) error {
	start := time.Now()
	load0 := loadAvg()
	groups := plan(cfg)
	var raw []byte
	var runErr error
	if cfg.in != "" {
		b, err := os.ReadFile(cfg.in)
		if err != nil {
			return err
		}
		raw = b
	} else {
		raw, runErr = runSuite(ctx, cfg, groups)
		if len(raw) == 0 {
			return runErr
		}
		if err := writeFile(cfg.raw, raw); err != nil {
			return err
		}
	}
	res, err := parse(raw)
	if err != nil {
		return err
	}
	env, err := describeMachine(ctx, res)
	if err != nil {
		return err
	}
	env.groups = groups
	env.elapsed = time.Since(start)
	env.load = [2]string{load0, loadAvg()}
	if cfg.in != "" {
		env.elapsed, env.from, env.load = 0, cfg.in, [2]string{}
	}

	if err := os.MkdirAll(cfg.img, 0o755); err != nil {
		return err
	}
	latency := filepath.Join(cfg.img, "latency."+cfg.format)
	// A run without the suite's ping-pong or throughput (a saved run of
	// some benchmarks only) has no chart to draw: the old one stays.
	if res.has("PingPong") {
		if err := latencyChart(res, latency); err != nil {
			return fmt.Errorf("latency chart: %w", err)
		}
	}
	throughput := filepath.Join(cfg.img, "throughput."+cfg.format)
	if res.has("Throughput") {
		if err := throughputChart(res, throughput); err != nil {
			return fmt.Errorf("throughput chart: %w", err)
		}
	}
	// The report links the charts and the raw output relative to itself.
	links := map[string]string{"latency": latency, "throughput": throughput, "raw": cfg.raw}
	if cfg.in != "" {
		links["raw"] = cfg.in
	}
	mdDir, _ := filepath.Abs(filepath.Dir(cfg.md))
	for k, p := range links {
		abs, _ := filepath.Abs(p)
		if rel, err := filepath.Rel(mdDir, abs); err == nil {
			links[k] = filepath.ToSlash(rel)
		}
	}
	if err := writeFile(cfg.md, markdown(res, env, links)); err != nil {
		return err
	}
	if cfg.readme != "" {
		if err := rewrite(cfg.readme, readmeBegin, readmeEnd, readmeBlock(res, env)); err != nil {
			return err
		}
	}
	if cfg.design != "" {
		if err := rewrite(cfg.design, designBegin, designEnd, designBlock(res, env)); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "report: wrote %s, %s and %s in %v\n", cfg.md, latency, throughput, time.Since(start).Round(time.Second))
	if cfg.in == "" {
		fmt.Fprintf(os.Stderr, "report: raw output in %s (compare runs with benchstat)\n", cfg.raw)
	}
	return runErr
}

// writeFile writes b to path, creating its directory.
func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// The markers around the generated parts of README.md and docs/design.md.
const (
	readmeBegin = "<!-- bench:begin (generated by make bench; do not edit) -->"
	readmeEnd   = "<!-- bench:end -->"
	designBegin = "<!-- protos:begin (generated by make bench; do not edit) -->"
	designEnd   = "<!-- protos:end -->"
)

// rewrite replaces what lies between the lines begin and end of the file
// at path with block.
func rewrite(path, begin, end string, block []byte) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	i := bytes.Index(b, []byte(begin+"\n"))
	j := bytes.Index(b, []byte(end))
	if i < 0 || j < i {
		return fmt.Errorf("%s: no %q ... %q block to rewrite", path, begin, end)
	}
	i += len(begin) + 1
	out := append(append(append([]byte(nil), b[:i]...), block...), b[j:]...)
	return os.WriteFile(path, out, 0o644)
}

// loadAvg returns the first three fields of /proc/loadavg, or "".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
