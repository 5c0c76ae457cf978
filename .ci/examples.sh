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
# The C examples, each paired with its Go counterpart in the other process.
make -s -C shm/c >/dev/null
run c-consumer+go-producer bash -c 'shm/c/build/consumer exc-$$ & c=$!; go run ./examples/c/go/producer exc-$$ 5; wait $c'
run go-consumer+c-producer bash -c 'go run ./examples/c/go/consumer exg-$$ & c=$!; shm/c/build/producer exg-$$ 5; wait $c'
# Services (issue 13): the C echo client (shmchan_dial) against the Go server.
go build -o "/tmp/echo-server-$$" ./examples/echo/server
run c-echo-client+go-echo-server bash -c 's=/tmp/echo-server-'$$'; $s -name exe-$$ & p=$!;
	for i in $(seq 100); do [ -e /dev/shm/exe-$$ ] && break; sleep 0.05; done;
	shm/c/build/echo-client exe-$$ 1000; r=$?; kill $p; wait $p; rm -f $s; exit $r'
