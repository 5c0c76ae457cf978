#!/usr/bin/env bash
# .ci/python.sh: the Python binding (python/shmchan, ctypes over
# shm/c/build/libshmchan.so) with Debian's /usr/bin/python3 and pytest
# (python3-pytest): its own tests, the tests against the Go peer
# (python/tests/gopeer: 100,000 messages each way, EOF, peer death, mailbox
# reads), and the two examples for a moment each.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1

make -s -C shm/c build/libshmchan.so
export SHMCHAN_LIBRARY=$PWD/shm/c/build/libshmchan.so
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -o "$out/gopeer" ./python/tests/gopeer
export SHMCHAN_GO_PEER=$out/gopeer

echo "== pytest ($($PY --version), pytest $($PY -m pytest --version 2>&1 | awk '{print $NF}'))"
$PY -m pytest -p no:cacheprovider -q -s python/tests

echo "== example: python/examples/producer.py -> examples/c/go/consumer"
name=pyex-$$
go build -o "$out/consumer" ./examples/c/go/consumer
"$out/consumer" "$name" >"$out/consumer.out" &
c=$!
$PY python/examples/producer.py "$name" 5
wait $c
[ "$(grep -c '^message ' "$out/consumer.out")" = 5 ] || { cat "$out/consumer.out"; exit 1; }
echo "== example: python/examples/pingpong.py (a short run; not a measurement)"
$PY python/examples/pingpong.py -n 2000
echo "== python.sh: done in $((SECONDS - t0)) s"
