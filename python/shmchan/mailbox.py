"""Mailboxes: the newest of a series of values, for any number of readers in
any number of processes, never torn, as shm.Mailbox in Go."""

import ctypes
import weakref

from . import _lib
from .channel import _SLICE_NS, _TIMEOUT, _buffer, _closed
from .errors import EOF

_EOF = -1  # SHMCHAN_EOF


class Mailbox:
    """A mailbox in the segment name: one writer publishes whole values of up
    to max_value bytes; readers copy the newest complete one.

    The first publish of a handle claims the writer role (BusyError while a
    live process holds it). Closing the writer's handle closes the mailbox for
    good: readers then get the final value with EOF. Make one with
    Mailbox.create, Mailbox.open or Mailbox.open_or_create; it is a context
    manager.

    latest, version and wait_newer may run in several threads at once, with
    publish too; two publishes on one handle must not overlap.
    """

    def __init__(self, handle, name):
        self._h = handle
        self.name = name
        self.max_value = _lib.mailbox_max_value(handle)
        self._finalizer = weakref.finalize(self, _lib.mailbox_close, handle)

    @staticmethod
    def size(max_value):
        """The segment size of a mailbox for values of up to max_value bytes
        (0 if out of range)."""
        return _lib.mailbox_size(max_value)

    @classmethod
    def create(cls, name, max_value, *, mode=0o600, remove_on_close=False, wait="adaptive"):
        """Creates the mailbox name for values of up to max_value bytes:
        ExistError if the name exists."""
        o = _lib.make_options(mode=mode, remove_on_close=remove_on_close, wait=wait)
        h = ctypes.c_void_p()
        _lib.check(_lib.mailbox_create(_lib.encode_name(name), max_value, o, ctypes.byref(h)),
                   "create mailbox", name)
        return cls(h.value, name)

    @classmethod
    def open(cls, name, *, open_timeout=2.0, remove_on_close=False, wait="adaptive"):
        """Opens the existing mailbox name, checking it as docs/layout.md says."""
        o = _lib.make_options(remove_on_close=remove_on_close, wait=wait, open_timeout=open_timeout)
        h = ctypes.c_void_p()
        _lib.check(_lib.mailbox_open(_lib.encode_name(name), o, ctypes.byref(h)), "open mailbox", name)
        return cls(h.value, name)

    @classmethod
    def open_or_create(cls, name, max_value, *, mode=0o600, open_timeout=2.0, remove_on_close=False,
                       wait="adaptive"):
        """Opens the mailbox name or creates it; returns (mailbox, created).
        IncompatibleError if it exists with another max_value."""
        o = _lib.make_options(mode=mode, remove_on_close=remove_on_close, wait=wait, open_timeout=open_timeout)
        h = ctypes.c_void_p()
        created = ctypes.c_int()
        _lib.check(_lib.mailbox_open_or_create(_lib.encode_name(name), max_value, o, ctypes.byref(h),
                                               ctypes.byref(created)), "open or create mailbox", name)
        return cls(h.value, name), bool(created.value)

    def _handle(self):
        if not self._finalizer.alive:
            raise _closed("use mailbox", self.name)
        return self._h

    def publish(self, value):
        """Makes a copy of value (bytes-like, up to max_value bytes) the
        newest value and returns its version. TooLargeError, BusyError,
        ClosedError (a writer closed the mailbox)."""
        buf, n = _buffer(value)
        v = ctypes.c_uint64()
        _lib.check(_lib.mailbox_publish(self._handle(), buf, n, ctypes.byref(v)), "publish", self.name)
        return v.value

    def version(self):
        """The newest complete version, 0 if nothing was published: one atomic load."""
        v = ctypes.c_uint64()
        _lib.check(_lib.mailbox_version(self._handle(), ctypes.byref(v)), "version", self.name)
        return v.value

    def latest(self):
        """Returns (value, version) of the newest complete value: (b"", 0)
        before the first publish. Once the writer closed the mailbox it raises
        EOF, whose value and version attributes hold the final value (Go's
        Latest returns it together with io.EOF)."""
        buf = ctypes.create_string_buffer(self.max_value or 1)
        n, v = ctypes.c_size_t(), ctypes.c_uint64()
        rc = _lib.mailbox_latest(self._handle(), buf, len(buf), ctypes.byref(n), ctypes.byref(v))
        if rc == _EOF:
            e = EOF("read", self.name, rc)
            e.value, e.version = buf.raw[:n.value], v.value
            raise e
        _lib.check(rc, "read", self.name)
        return buf.raw[:n.value], v.value

    def wait_newer(self, version, timeout=None):
        """Waits up to timeout seconds (None: no limit) for a version newer
        than version (0: the first value) and returns (value, version) of the
        newest. Raises EOF once the writer closed and nothing newer is left,
        PeerGoneError if the writer's process died, DeadlineExceededError."""
        h = self._handle()
        buf = ctypes.create_string_buffer(self.max_value or 1)
        n, v = ctypes.c_size_t(), ctypes.c_uint64()
        args = (h, version, buf, len(buf), ctypes.byref(n), ctypes.byref(v))
        if timeout is None:
            while True:
                rc = _lib.mailbox_wait_newer(*args, _SLICE_NS)
                if rc != _TIMEOUT:
                    break
        else:
            rc = _lib.mailbox_wait_newer(*args, _lib.timeout_ns(timeout))
        _lib.check(rc, "wait", self.name)
        return buf.raw[:n.value], v.value

    def close(self):
        """Closes the handle; if it holds the writer role, closes the
        mailbox for good (readers get EOF after the final value). Idempotent."""
        if not self._finalizer.alive:
            return
        _lib.check(self._finalizer(), "close mailbox", self.name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
