#!/usr/bin/env bash
# make bench: run the bounded benchmark suite (a few minutes on 2 cores, a
# progress line per benchmark) and write docs/benchmarks.md, the charts
# docs/img/latency.svg and docs/img/throughput.svg, and the raw output for
# benchstat in bench/results/benchmarks.txt. Arguments go to the report
# generator (go run ./bench/cmd/report -h lists them), for
# example -benchtime=1s for steadier numbers, or -in FILE to rewrite the
# report from a saved run. Stop other CPU-heavy work first: the spinning
# transports and the cache-line floor need both cores.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./bench/cmd/report "$@"
