"""The binding on its own, in one Python process: the API, the options, and
the errors mapped to exceptions."""

import pytest

import shmchan
from shmchan import _lib, errors


def test_roundtrip_and_views(name):
    with shmchan.Channel.create(name(), 4096, remove_on_close=True) as ch:
        assert ch.capacity == 4096 and 0 < ch.max_message < 4096
        ch.send(b"bytes")
        ch.send(bytearray(b"bytearray"))
        ch.send(memoryview(b"memoryview"))
        ch.try_send(b"")
        assert [ch.recv(), ch.recv(timeout=0), ch.try_recv(), ch.recv()] == [b"bytes", b"bytearray", b"memoryview", b""]
        with pytest.raises(shmchan.EmptyError):
            ch.try_recv()
        with pytest.raises(TimeoutError):
            ch.recv(timeout=0.05)


def test_full_and_too_large(name):
    with shmchan.Channel.create(name(), 1024) as ch:
        with pytest.raises(shmchan.TooLargeError):
            ch.send(bytes(ch.max_message + 1))
        with pytest.raises(shmchan.FullError):
            for _ in range(1000):
                ch.try_send(bytes(100))
        with pytest.raises(shmchan.DeadlineExceededError):
            ch.send(bytes(100), timeout=0.01)


def test_roles_are_claimed_once(name):
    n = name()
    with shmchan.Channel.create(n, 1024) as a, shmchan.Channel.open(n) as b:
        a.sender()
        with pytest.raises(shmchan.BusyError):
            b.sender()
        b.receiver()
        with pytest.raises(shmchan.BusyError):
            a.receiver()


def test_closed_ends(name):
    with shmchan.Channel.create(name(), 1024) as ch:
        tx, rx = ch.sender(), ch.receiver()
        rx.close()
        with pytest.raises(shmchan.ClosedError):
            tx.send(b"x")
    with pytest.raises(shmchan.ClosedError):
        ch.send(b"after close")
    ch.close()  # idempotent


def test_open_errors(name):
    with pytest.raises(FileNotFoundError) as e:
        shmchan.Channel.open(name(), open_timeout=0)
    assert isinstance(e.value, shmchan.NotExistError) and e.value.errno == 2
    with pytest.raises(ValueError):
        shmchan.Channel.create("no/slash", 1024)
    with pytest.raises(shmchan.InvalidSizeError):
        shmchan.Channel.create(name(), 1000)
    n = name()
    with shmchan.Channel.create(n, 1024):
        with pytest.raises(FileExistsError):
            shmchan.Channel.create(n, 1024)
        with pytest.raises(shmchan.IncompatibleError):
            shmchan.Channel.open_or_create(n, 2048)
        ch, created = shmchan.Channel.open_or_create(n, 1024)
        assert not created
        ch.close()
    with shmchan.Mailbox.create(n + "m", 16) as mb:
        with pytest.raises(shmchan.NotChannelError):
            shmchan.Channel.open(n + "m")
        mb.publish(b"x")
    shmchan.remove(n + "m")


def test_mailbox(name):
    n = name()
    with shmchan.Mailbox.create(n, 64) as w, shmchan.Mailbox.open(n) as r:
        assert r.latest() == (b"", 0) and r.version() == 0
        assert w.publish(b"one") == 1 and w.publish(bytearray(b"two")) == 2
        assert r.latest() == (b"two", 2) and r.wait_newer(1) == (b"two", 2)
        with pytest.raises(TimeoutError):
            r.wait_newer(2, timeout=0.02)
        with pytest.raises(shmchan.TooLargeError):
            w.publish(bytes(65))
        with pytest.raises(shmchan.BusyError):
            r.publish(b"second writer")
        w.close()
        with pytest.raises(shmchan.EOF) as e:
            r.latest()
        assert (e.value.value, e.value.version) == (b"two", 2)
        with pytest.raises(shmchan.EOF):
            r.wait_newer(2)


def test_every_code_has_a_class():
    for code in range(-1, -25, -1):
        cls = errors.error_class(code)
        assert cls is not errors.Error, code
        assert _lib.strerror(code), code
    assert errors.error_class(-99) is errors.Error


def test_options_block_starts_with_known_fields():
    block = _lib.make_options(mode=0o640, remove_on_close=True, open_timeout=0.5, wait="block")
    o = _lib.Options.from_buffer(block)
    assert (o.mode, o.remove_on_close, o.open_timeout_ns, o.wait) == (0o640, 1, 500_000_000, 2)
    with pytest.raises(ValueError):
        _lib.make_options(wait="sometimes")
