"""A Python process against a Go process (gopeer): 100,000 messages of random
sizes both ways, EOF and peer death in both directions, and mailbox reads
against a Go writer."""

import os
import random
import signal
import sys
import threading
import time

import pytest

import shmchan
from messages import check, message, parse, size

HERE = os.path.dirname(os.path.abspath(__file__))
N = int(os.environ.get("SHMCHAN_PY_EXCHANGE_N", "100000"))


def result(p, timeout=300):
    """Waits for the peer p and returns its parsed result line."""
    out, _ = p.communicate(timeout=timeout)
    lines = out.strip().splitlines()
    assert lines, "peer printed nothing (exit status %s)" % p.returncode
    return parse(lines[-1]), p.returncode


@pytest.mark.parametrize("wait", ["adaptive", "block"])
def test_exchange_both_ways(gopeer, name, procs, wait):
    """Python sends N messages of random sizes to Go while Go sends N to
    Python, on two channels at once: none lost, reordered or corrupt."""
    p2g, g2p = name(), name()
    out = shmchan.Channel.create(p2g, 1 << 20, wait=wait)
    inc = shmchan.Channel.create(g2p, 1 << 20, wait=wait)
    with out, inc:
        tx, rx = out.sender(), inc.receiver()
        peer = procs([gopeer, "-wait", wait, "exchange", p2g, g2p, str(N), "42"])
        sent_err = []

        def send_all():
            try:
                rng = random.Random(1)
                limit = out.max_message
                for i in range(N):
                    tx.send(message(i, size(rng, limit), rng))
                tx.close()
            except Exception as e:  # reported by the main thread
                sent_err.append(e)

        t0 = time.monotonic()
        sender = threading.Thread(target=send_all)
        sender.start()
        got = corrupt = 0
        first = None
        for msg in rx:  # until Go closes its sender (EOF)
            bad = check(msg, got)
            if bad:
                corrupt += 1
                first = first or bad
            got += 1
        sender.join()
        elapsed = time.monotonic() - t0
        res, code = result(peer)
    print("\nexchange wait=%s: %d messages each way in %.2f s; Go side: %s" % (wait, N, elapsed, res))
    assert not sent_err, sent_err
    assert (got, corrupt, first) == (N, 0, None), "Python received %d of %d, %d corrupt: %s" % (got, N, corrupt, first)
    assert res["received"] == str(N) and res["lost"] == "0" and res["corrupt"] == "0", res
    assert res["end"] == "eof" and code == 0, res


def test_eof_from_go(gopeer, name, procs):
    """A Go sender that closes: Python receives everything, then EOF."""
    n = name()
    with shmchan.Channel.create(n, 1 << 16) as ch:
        rx = ch.receiver()
        peer = procs([gopeer, "send", n, "100", "close"])
        msgs = list(rx)  # stops at EOF
        assert [check(m, i) for i, m in enumerate(msgs)] == [None] * 100
        with pytest.raises(shmchan.EOF):
            rx.recv(timeout=1)
        with pytest.raises(EOFError):  # the built-in base class
            rx.try_recv()
        res, code = result(peer)
        assert code == 0 and res.get("sent") == "100", res


def test_eof_to_go(gopeer, name, procs):
    """A Python sender that closes: Go receives everything, then io.EOF."""
    n = name()
    with shmchan.Channel.create(n, 1 << 16) as ch:
        tx = ch.sender()
        peer = procs([gopeer, "recv", n])
        assert peer.stdout.readline().strip() == "ready"
        rng = random.Random(2)
        for i in range(50):
            tx.send(message(i, rng.randrange(2000), rng))
        tx.close()
        with pytest.raises(shmchan.ClosedError):
            tx.send(b"after close")
        res, code = result(peer)
    assert res == {"received": "50", "corrupt": "0", "end": "eof"} and code == 0, res


def test_peer_gone_go_killed(gopeer, name, procs):
    """A Go sender killed with SIGKILL: Python drains what it sent, then gets
    PeerGoneError, as a Go receiver gets ErrPeerGone."""
    n = name()
    with shmchan.Channel.create(n, 1 << 18) as ch:
        rx = ch.receiver()
        peer = procs([gopeer, "send", n, "100", "stay"])
        assert peer.stdout.readline().startswith("sent=100")
        t0 = time.monotonic()
        peer.send_signal(signal.SIGKILL)
        peer.wait()
        for i in range(100):
            assert check(rx.recv(timeout=5), i) is None
        with pytest.raises(shmchan.PeerGoneError):
            rx.recv(timeout=5)
        print("\nPeerGoneError %.0f ms after SIGKILL" % ((time.monotonic() - t0) * 1e3))


def test_peer_gone_python_killed(gopeer, name, procs):
    """A Python sender killed with SIGKILL: the Go receiver drains it, then
    gets ErrPeerGone."""
    n = name()
    with shmchan.Channel.create(n, 1 << 18):
        peer = procs([gopeer, "recv", n])
        assert peer.stdout.readline().strip() == "ready"
        child = procs([sys.executable, os.path.join(HERE, "pychild.py"), "send", n, "30"])
        assert child.stdout.readline().strip() == "sent=30"
        child.send_signal(signal.SIGKILL)
        child.wait()
        res, code = result(peer, timeout=30)
    assert res == {"received": "30", "corrupt": "0", "end": "peer-gone"} and code == 0, res


def test_receiver_close_stops_go_sender(gopeer, name, procs):
    """A Python receiver that closes: the Go sender gets ErrClosed."""
    n = name()
    with shmchan.Channel.create(n, 1 << 12) as ch:
        rx = ch.receiver()
        peer = procs([gopeer, "send-until-error", n])
        assert peer.stdout.readline().strip() == "ready"
        rx.recv(timeout=5)
        rx.close()
        res, code = result(peer, timeout=30)
    assert res.get("end") == "closed" and code == 0, res


@pytest.mark.parametrize("wait", ["adaptive", "spin"])
def test_mailbox_never_torn(gopeer, name, procs, wait):
    """A Python reader of a mailbox that a Go writer publishes to as fast as
    it can: every value read is whole (crc, length and the version it was
    published as), versions never go back, and the final value comes with EOF."""
    n = name()
    with shmchan.Mailbox.create(n, 8192, wait=wait) as mb:
        peer = procs([gopeer, "-wait", wait, "mbwriter", n, "2s"])
        reads = torn = 0
        last = 0
        first = None
        while True:
            try:
                if reads % 2:
                    value, v = mb.latest()
                else:
                    value, v = mb.wait_newer(last, timeout=10)
            except shmchan.EOF as e:
                final = e
                break
            if v == 0:
                continue
            bad = check(value, v)
            if bad or v < last:
                torn += 1
                first = first or bad or "version %d after %d" % (v, last)
            last = v
            reads += 1
        res, code = result(peer)
        with pytest.raises(shmchan.EOF) as eof:
            mb.latest()
    print("\nmailbox wait=%s: %d reads of %s versions, %d torn" % (wait, reads, res.get("published"), torn))
    assert code == 0, res
    assert torn == 0, first
    assert reads > 100, reads
    assert str(eof.value.version) == res["published"] and check(eof.value.value, eof.value.version) is None
    assert final is not None
