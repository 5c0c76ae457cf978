#!/usr/bin/env bash
# make bench: run the bounded benchmark suite (a few minutes on 2 cores, a
# progress line per benchmark) and write docs/benchmarks.md, the charts
# docs/img/latency.svg and docs/img/throughput.svg, and the raw output for
# benchstat in bench/results/benchmarks.txt. Arguments go to the report
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
