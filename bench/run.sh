#!/usr/bin/env bash
# make bench: run the bounded benchmark suite, then five interleaved rounds of
# the benchmarks behind the goals of issue 16 and the prototypes (7 min 35 s
# on the 2-core development machine at load average 5 to 9, 2026-12-01; a
# progress line per benchmark), and write docs/benchmarks.md, the charts
# docs/img/latency.svg and docs/img/throughput.svg, the raw output for
# benchstat in bench/results/benchmarks.txt, and the generated blocks of
# README.md (the benchmark table) and docs/design.md (the prototypes). Arguments go to the report
# generator (go run ./cmd/report -h in bench/ lists them), for
# example -benchtime=1s for steadier numbers, or -in FILE to rewrite the
# report from a saved run. Stop other CPU-heavy work first: the spinning
# transports and the cache-line floor need both cores.
set -euo pipefail
# bench/ is its own module (bench/go.mod, which replaces the library with
# the checkout): the report generator runs from there, and its default paths
# (../docs/benchmarks.md, ../docs/img, results/benchmarks.txt) are relative
# to it.
cd "$(dirname "$0")"
exec go run ./cmd/report "$@"
