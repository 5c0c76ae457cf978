"""Channels: a single-sender, single-receiver ring of messages in shared
memory, as shm.Channel in Go (docs/layout.md)."""

import ctypes
import time
import weakref

from . import _lib
from .errors import EOF, ClosedError

# A wait without limit is made of waits of this many nanoseconds, so that
# Python handles signals (KeyboardInterrupt) in between: the C call itself
# holds no GIL but cannot be interrupted.
_SLICE_NS = 200_000_000


def _wait(call, timeout):
    """Runs call(timeout_ns) until it returns something other than a timeout
    or timeout (seconds, None for no limit) has passed; returns its rc."""
    if timeout is None:
        while True:
            rc = call(_SLICE_NS)
            if rc != _TIMEOUT:
                return rc
    ns = _lib.timeout_ns(timeout)
    if ns <= _SLICE_NS:
        return call(ns)
    deadline = time.monotonic_ns() + ns
    while True:
        left = deadline - time.monotonic_ns()
        rc = call(max(0, min(left, _SLICE_NS)))
        if rc != _TIMEOUT or left <= _SLICE_NS:
            return rc


_TIMEOUT = -12  # SHMCHAN_ERR_TIMEOUT


def _buffer(data):
    """Returns (pointer-compatible object, length) for a bytes-like object,
    without a copy for bytes and writable buffers."""
    if isinstance(data, bytes):
        return data, len(data)
    mv = memoryview(data).cast("B")
    if mv.readonly:
        b = mv.tobytes()
        return b, len(b)
    return (ctypes.c_char * len(mv)).from_buffer(mv), len(mv)


class Channel:
    """A channel: a ring of capacity bytes in the segment name, shared with
    another process (Go, C or Python) that opened or created the same name.

    Make one with Channel.create, Channel.open or Channel.open_or_create.
    The channel hands out one Sender (sender()) and one Receiver
    (receiver()), each claimed in the shared header: a second live claim,
    here or in another process, raises BusyError. send, try_send, recv and
    try_recv claim the role on first use and forward to it.

    Close it (or use it as a context manager) to close the ends it still
    holds and unmap it; a channel that is garbage collected is closed too,
    but a sender left open only reads as gone to its peer once this process
    exits.
    """

    def __init__(self, handle, name):
        self._h = handle
        self.name = name
        self._tx = None
        self._rx = None
        self._finalizer = weakref.finalize(self, _lib.channel_close, handle)

    @classmethod
    def create(cls, name, capacity, *, mode=0o600, remove_on_close=False, wait="adaptive"):
        """Creates the channel name with a ring of capacity bytes (a power of
        two, at least 1024): ExistError if the name exists."""
        o = _lib.make_options(mode=mode, remove_on_close=remove_on_close, wait=wait)
        h = ctypes.c_void_p()
        _lib.check(_lib.channel_create(_lib.encode_name(name), capacity, o, ctypes.byref(h)), "create channel", name)
        return cls(h.value, name)

    @classmethod
    def open(cls, name, *, open_timeout=2.0, remove_on_close=False, wait="adaptive"):
        """Opens the existing channel name, waiting up to open_timeout seconds
        for its creator to finish: NotExistError, NotReadyError,
        NotChannelError, VersionMismatchError or CorruptError otherwise."""
        o = _lib.make_options(remove_on_close=remove_on_close, wait=wait, open_timeout=open_timeout)
        h = ctypes.c_void_p()
        _lib.check(_lib.channel_open(_lib.encode_name(name), o, ctypes.byref(h)), "open channel", name)
        return cls(h.value, name)

    @classmethod
    def open_or_create(cls, name, capacity, *, mode=0o600, open_timeout=2.0, remove_on_close=False,
                       wait="adaptive"):
        """Opens the channel name or creates it; returns (channel, created).
        IncompatibleError if it exists with another capacity."""
        o = _lib.make_options(mode=mode, remove_on_close=remove_on_close, wait=wait, open_timeout=open_timeout)
        h = ctypes.c_void_p()
        created = ctypes.c_int()
        _lib.check(_lib.channel_open_or_create(_lib.encode_name(name), capacity, o, ctypes.byref(h),
                                               ctypes.byref(created)), "open or create channel", name)
        return cls(h.value, name), bool(created.value)

    def _handle(self):
        if not self._finalizer.alive:
            raise _closed("use channel", self.name)
        return self._h

    @property
    def capacity(self):
        """The ring's size in bytes."""
        return _lib.channel_capacity(self._handle())

    @property
    def max_message(self):
        """The largest message a send accepts, in bytes."""
        return _lib.channel_max_message(self._handle())

    def sender(self):
        """Claims the sender role and returns the Sender (the same one on
        later calls)."""
        if self._tx is None:
            p = ctypes.c_void_p()
            _lib.check(_lib.channel_sender(self._handle(), ctypes.byref(p)), "claim sender", self.name)
            self._tx = Sender(self, p.value)
        return self._tx

    def receiver(self):
        """Claims the receiver role and returns the Receiver (the same one on
        later calls)."""
        if self._rx is None:
            p = ctypes.c_void_p()
            _lib.check(_lib.channel_receiver(self._handle(), ctypes.byref(p)), "claim receiver", self.name)
            self._rx = Receiver(self, p.value)
        return self._rx

    def send(self, msg, timeout=None):
        """sender().send(msg, timeout)."""
        self.sender().send(msg, timeout)

    def try_send(self, msg):
        """sender().try_send(msg)."""
        self.sender().try_send(msg)

    def recv(self, timeout=None):
        """receiver().recv(timeout)."""
        return self.receiver().recv(timeout)

    def try_recv(self):
        """receiver().try_recv()."""
        return self.receiver().try_recv()

    def close(self):
        """Closes the ends this channel still holds (the receiver of a closed
        sender gets EOF after the last message) and unmaps the segment; with
        remove_on_close, the name is removed. Idempotent."""
        if not self._finalizer.alive:
            return
        for end in (self._tx, self._rx):
            if end is not None:
                end._dead = True
        rc = self._finalizer()
        _lib.check(rc, "close channel", self.name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _closed(op, name):
    return ClosedError(op, name, -2)


class Sender:
    """The sending end of a channel. Not safe for concurrent use by two
    threads; the Sender and the Receiver of one channel may run in two."""

    def __init__(self, ch, handle):
        self._ch = ch
        self._h = handle
        self._dead = False

    def _handle(self):
        if self._dead:
            raise _closed("send", self._ch.name)
        return self._h

    def send(self, msg, timeout=None):
        """Copies msg (any bytes-like object, up to max_message bytes) into
        the ring as one message, waiting up to timeout seconds (None: no
        limit) for room. Raises TooLargeError, ClosedError (the receiver
        closed), PeerGoneError (the receiver's process died),
        DeadlineExceededError or CorruptError."""
        h = self._handle()
        buf, n = _buffer(msg)
        rc = _wait(lambda ns: _lib.send(h, buf, n, ns), timeout)
        _lib.check(rc, "send", self._ch.name)

    def try_send(self, msg):
        """send without waiting: FullError if there is no room now."""
        buf, n = _buffer(msg)
        _lib.check(_lib.try_send(self._handle(), buf, n), "send", self._ch.name)

    def close(self):
        """Closes the sending end: the receiver reads what is left, then gets
        EOF. The role cannot be claimed again. Idempotent."""
        if self._dead or not self._ch._finalizer.alive:
            return
        _lib.check(_lib.sender_close(self._h), "close sender", self._ch.name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Receiver:
    """The receiving end of a channel. Iterating over it yields messages
    until the sender closes (EOF ends the loop); any other error is raised."""

    def __init__(self, ch, handle):
        self._ch = ch
        self._h = handle
        self._dead = False
        self._ptr = ctypes.c_void_p()
        self._len = ctypes.c_size_t()

    def _handle(self):
        if self._dead:
            raise _closed("receive", self._ch.name)
        return self._h

    def _take(self, rc):
        _lib.check(rc, "receive", self._ch.name)
        # One copy, out of the ring into a new bytes object, then release.
        msg = ctypes.string_at(self._ptr.value, self._len.value) if self._len.value else b""
        _lib.check(_lib.release(self._h), "release", self._ch.name)
        return msg

    def recv(self, timeout=None):
        """Returns the next message as bytes, waiting up to timeout seconds
        (None: no limit). Raises EOF once the sender closed and every message
        was received, PeerGoneError if the sender's process died (after every
        message it published), ClosedError, DeadlineExceededError or
        CorruptError."""
        h = self._handle()
        p, n = ctypes.byref(self._ptr), ctypes.byref(self._len)
        return self._take(_wait(lambda ns: _lib.peek(h, p, n, ns), timeout))

    def try_recv(self):
        """recv without waiting: EmptyError if there is no message now."""
        h = self._handle()
        return self._take(_lib.try_peek(h, ctypes.byref(self._ptr), ctypes.byref(self._len)))

    def __iter__(self):
        while True:
            try:
                yield self.recv()
            except EOF:
                return

    def close(self):
        """Closes the receiving end: the sender's next send raises
        ClosedError. Idempotent."""
        if self._dead or not self._ch._finalizer.alive:
            return
        _lib.check(_lib.receiver_close(self._h), "close receiver", self._ch.name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def remove(name):
    """Removes the name of a channel or mailbox (shm.Remove): processes that
    have it open keep using it."""
    _lib.check(_lib.segment_remove(_lib.encode_name(name)), "remove", name)

