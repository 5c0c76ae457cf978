#!/usr/bin/env python3
"""pingpong.py [-n N] [-size BYTES] [-wait W]: the round trip of a message
from Python to a Go process and back, next to the same round trip between
two Go processes, over two shmchan channels.

It starts the Go peer of the binding's tests (python/tests/gopeer, built
with `go build` unless SHMCHAN_GO_PEER names it) as the echoing side. Run
from the repository root after `make -C shm/c`:

    /usr/bin/python3 python/examples/pingpong.py -n 20000 -size 64
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "python"))
import shmchan  # noqa: E402


def gopeer():
    path = os.environ.get("SHMCHAN_GO_PEER")
    if path:
        return path
    path = os.path.join(tempfile.mkdtemp(prefix="shmchan-pingpong-"), "gopeer")
    subprocess.run(["go", "build", "-o", path, "./python/tests/gopeer"], cwd=ROOT, check=True)
    return path


def channels(tag, wait):
    base = "pp-%d-%s" % (os.getpid(), tag)
    ping = shmchan.Channel.create(base + "-a", 1 << 16, remove_on_close=True, wait=wait)
    pong = shmchan.Channel.create(base + "-b", 1 << 16, remove_on_close=True, wait=wait)
    return ping, pong


def percentiles(ns):
    ns = sorted(ns)
    return {p: ns[int(p / 100 * (len(ns) - 1))] for p in (50, 90, 99)}


def python_to_go(peer, n, size, wait):
    ping, pong = channels("py", wait)
    with ping, pong:
        tx, rx = ping.sender(), pong.receiver()
        echo = subprocess.Popen([peer, "-wait", wait, "pong", ping.name, pong.name], stdout=subprocess.PIPE, text=True)
        msg = bytes(size)
        rtts = []
        clock = time.perf_counter_ns
        for i in range(n + n // 10):  # the first tenth warms up
            t0 = clock()
            tx.send(msg)
            rx.recv()
            if i >= n // 10:
                rtts.append(clock() - t0)
        tx.close()
        echo.communicate(timeout=30)
    return percentiles(rtts)


def go_to_go(peer, n, size, wait):
    ping, pong = channels("go", wait)
    with ping, pong:
        # The Go pong reads ping and answers on pong; the Go pinger the other way round.
        echo = subprocess.Popen([peer, "-wait", wait, "pong", ping.name, pong.name], stdout=subprocess.PIPE, text=True)
        out = subprocess.run([peer, "-wait", wait, "ping", pong.name, ping.name, str(n), str(size)],
                             check=True, capture_output=True, text=True).stdout
        echo.communicate(timeout=30)
    fields = dict(f.split("=") for f in out.split() if "=" in f)
    return {p: int(fields["p%d" % p].rstrip("ns")) for p in (50, 90, 99)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=20000, help="round trips to time (after a tenth more to warm up)")
    ap.add_argument("-size", type=int, default=64, help="message size in bytes")
    ap.add_argument("-wait", default="adaptive", choices=["adaptive", "spin", "block"])
    a = ap.parse_args()
    peer = gopeer()
    for label, fn in (("python <-> go", python_to_go), ("go <-> go", go_to_go)):
        p = fn(peer, a.n, a.size, a.wait)
        print("%-14s size=%d wait=%s n=%d  p50 %7.2f us  p90 %7.2f us  p99 %7.2f us"
              % (label, a.size, a.wait, a.n, p[50] / 1e3, p[90] / 1e3, p[99] / 1e3))


if __name__ == "__main__":
    main()
