package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// result is one benchmark line: BenchmarkX/transport=T/size=N-P  iters  v unit ...
type result struct {
	bench     string // "PingPong", without the Benchmark prefix
	transport string
	size      int // -1 when the benchmark has no size
	iters     int64
	metrics   map[string]float64 // by unit: "ns/op", "MB/s", "p50-ns", ...
}

// results holds a run, and the header lines of the raw output. A benchmark
// that ran more than once (the interleaved rounds, see plan) has every run
// in samples, in order, and its byKey entry holds the median of each metric.
type results struct {
	list    []*result
	byKey   map[string]*result
	samples map[string][]*result
	header  map[string]string // goos, goarch, pkg, cpu
}

func key(bench, transport string, size int) string {
	return fmt.Sprintf("%s|%s|%d", bench, transport, size)
}

// get returns a result, or nil if the run has none.
func (rs *results) get(bench, transport string, size int) *result {
	return rs.byKey[key(bench, transport, size)]
}

// metric returns a metric of a result, and whether it exists.
func (rs *results) metric(bench, transport string, size int, unit string) (float64, bool) {
	r := rs.get(bench, transport, size)
	if r == nil {
		return 0, false
	}
	v, ok := r.metrics[unit]
	return v, ok
}

func parse(raw []byte) (*results, error) {
	rs := &results{byKey: map[string]*result{}, samples: map[string][]*result{}, header: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if k, v, ok := strings.Cut(line, ":"); ok && isHeader(line) {
			rs.header[k] = strings.TrimSpace(v)
			continue
		}
		r, ok := parseLine(line)
		if !ok {
			continue
		}
		k := key(r.bench, r.transport, r.size)
		if rs.byKey[k] == nil {
			rs.list = append(rs.list, r)
		}
		rs.byKey[k] = r
		rs.samples[k] = append(rs.samples[k], r)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(rs.list) == 0 {
		return nil, fmt.Errorf("no benchmark results in the input")
	}
	// A benchmark that repeats (the rounds) is summarised by the median of
	// each metric over its runs.
	for i, r := range rs.list {
		k := key(r.bench, r.transport, r.size)
		if ss := rs.samples[k]; len(ss) > 1 {
			m := &result{bench: r.bench, transport: r.transport, size: r.size, iters: ss[len(ss)-1].iters, metrics: map[string]float64{}}
			for unit := range r.metrics {
				var vs []float64
				for _, s := range ss {
					if v, ok := s.metrics[unit]; ok {
						vs = append(vs, v)
					}
				}
				m.metrics[unit] = median(vs)
			}
			rs.list[i], rs.byKey[k] = m, m
		}
	}
	return rs, nil
}

// has reports whether the run has a result of the suite's benchmark b (one
// with a transport parameter).
func (rs *results) has(b string) bool {
	for _, r := range rs.list {
		if r.bench == b && !strings.Contains(r.transport, "=") && r.transport != "" {
			return true
		}
	}
	return false
}

// all returns every run's value of a metric, in run order.
func (rs *results) all(bench, transport string, size int, unit string) []float64 {
	var vs []float64
	for _, r := range rs.samples[key(bench, transport, size)] {
		if v, ok := r.metrics[unit]; ok {
			vs = append(vs, v)
		}
	}
	return vs
}

// median returns the median of vs (the mean of the middle two for an even
// count), or NaN for none.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// parseLine parses a benchmark result line in the standard format.
func parseLine(line string) (*result, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
		return nil, false
	}
	iters, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return nil, false
	}
	name := f[0]
	if i := strings.LastIndexByte(name, '-'); i > 0 && !strings.Contains(name[i:], "/") && !strings.Contains(name[i:], "=") {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i] // the -GOMAXPROCS suffix
		}
	}
	parts := strings.Split(name, "/")
	r := &result{bench: strings.TrimPrefix(parts[0], "Benchmark"), size: -1, iters: iters, metrics: map[string]float64{}}
	// A benchmark without a transport parameter (the prototypes, the C
	// interop ones) is named by its other parameters: "peer=c/wait=block".
	var other []string
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(p, "=")
		switch k {
		case "transport":
			r.transport = v
		case "size":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, false
			}
			r.size = n
		default:
			other = append(other, p)
		}
	}
	if r.transport == "" {
		r.transport = strings.Join(other, "/")
	}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return nil, false
		}
		r.metrics[f[i+1]] = v
	}
	return r, true
}

// summary is the result in a few words, for the progress line.
func (r *result) summary() string {
	name := r.bench + " " + r.transport
	if r.size >= 0 {
		name += " " + sizeLabel(r.size)
	}
	var s string
	switch {
	case r.bench == "Clock":
		s = fmt.Sprintf("an empty interval measures %s (p50)", ns(r.metrics["p50-ns"]))
	case r.metrics["p50-ns"] > 0:
		s = fmt.Sprintf("p50 %s  p99 %s", ns(r.metrics["p50-ns"]), ns(r.metrics["p99-ns"]))
	case r.metrics["lost/op"] > 0 || r.metrics["torn/op"] > 0:
		s = fmt.Sprintf("%s lost, %s torn of %d", pct(r.metrics["lost/op"]), pct(r.metrics["torn/op"]), r.iters)
	case r.metrics["msg/s"] > 0:
		s = fmt.Sprintf("%s msg/s  %s", count(r.metrics["msg/s"]), bytesPerSec(r.metrics["MB/s"]))
	case r.metrics["msgs/s"] > 0: // the C interop package's unit
		s = fmt.Sprintf("%s msg/s  %s", count(r.metrics["msgs/s"]), bytesPerSec(r.metrics["MB/s"]))
	case r.metrics["MB/s"] > 0:
		s = bytesPerSec(r.metrics["MB/s"])
	case r.bench == "Idle":
		s = fmt.Sprintf("%.2f%% of a core", r.metrics["cpu-%"])
	default:
		s = ns(r.metrics["ns/op"]) + "/op"
	}
	return fmt.Sprintf("%-44s %s", name, s)
}
