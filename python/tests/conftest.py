"""Fixtures of the binding's tests: the package on sys.path, the Go peer
(python/tests/gopeer, built once per run unless SHMCHAN_GO_PEER names a
built one), fresh names, and a check that nothing is left in /dev/shm."""

import itertools
import os
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "python"))

PREFIX = "pyt-%d-" % os.getpid()
_counter = itertools.count(1)


@pytest.fixture(scope="session")
def gopeer():
    """The path of the Go peer program."""
    path = os.environ.get("SHMCHAN_GO_PEER")
    if path:
        return path
    out = os.path.join(tempfile.mkdtemp(prefix="shmchan-gopeer-"), "gopeer")
    subprocess.run(["go", "build", "-o", out, "./python/tests/gopeer"], cwd=ROOT, check=True)
    return out


@pytest.fixture
def name():
    """A function returning a fresh object name on each call; every name is
    removed at the end of the test, whoever created it."""
    import shmchan

    made = []

    def new():
        n = "%s%d" % (PREFIX, next(_counter))
        made.append(n)
        return n

    yield new
    for n in made:
        try:
            shmchan.remove(n)
        except FileNotFoundError:
            pass


@pytest.fixture
def procs():
    """Starts processes; kills the ones still running at the end of the test."""
    started = []

    def start(args, **kw):
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=sys.stderr, text=True, **kw)
        started.append(p)
        return p

    yield start
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait()
        if p.stdout:
            p.stdout.close()


def pytest_sessionfinish(session, exitstatus):
    left = sorted(e for e in os.listdir("/dev/shm") if e.startswith(PREFIX)) if os.path.isdir("/dev/shm") else []
    if left:
        import shmchan
        for n in left:
            shmchan.remove(n)
        print("\nthe tests left %d objects in /dev/shm: %s" % (len(left), left), file=sys.stderr)
        session.exitstatus = 1
