#!/usr/bin/env bash
# Build every example and run each for a few seconds; fail if one fails.
set -euo pipefail
cd "$(dirname "$0")/.."
go build ./examples/...
run() {
	local name=$1; shift
	echo "== example $name"
	local start=$(date +%s%N)
	timeout 120 "$@"
	echo "== example $name: ok in $(( ($(date +%s%N) - start) / 1000000 )) ms"
}
run readme   go run ./examples/readme
run segment  go run ./examples/segment
for ex in pingpong pipeline frames; do
	[ -d examples/$ex ] || continue
	run $ex go run ./examples/$ex -duration 2s
done
if [ -f examples/c/Makefile ] || [ -f shm/c/Makefile ]; then
	make -s -C shm/c >/dev/null
fi
