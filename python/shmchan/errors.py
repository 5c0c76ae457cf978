"""Errors of the shmchan binding: one exception class per C error code, each
mirroring the Go error of package shm that the code stands for.

Every class derives from Error, which carries the C code (``code``), the
operation (``op``), the object's name (``name``) and, for the errno classes,
``errno``. Where a Python built-in means the same thing the class derives from
it too, so ``except FileExistsError`` or ``except TimeoutError`` work as they
do with ``errors.Is(err, fs.ErrExist)`` in Go.
"""

import os as _os


class Error(Exception):
    """A failed shmchan call: ``op name: description``."""

    code = None

    def __init__(self, op, name, code, err=0, detail=None):
        self.op = op
        self.name = name
        self.code = code
        self.errno = err or None
        msg = detail or _strerror(code)
        if err:
            msg = "%s: %s" % (msg, _os.strerror(err))
        where = op if not name else "%s %s" % (op, name)
        super().__init__("%s: %s" % (where, msg))


class EOF(Error, EOFError):
    """io.EOF: the sender closed its end and every message was received
    (channels), or the writer closed the mailbox and nothing newer is left.
    Raised by Mailbox.latest with the final value in ``value`` and
    ``version``, as Go's Latest returns it with io.EOF."""

    value = None
    version = None


class ClosedError(Error):
    """ErrClosed (os.ErrClosed): this end, or the peer's end, is closed."""


class BusyError(Error):
    """ErrBusy: the role is held by a live process or handle."""


class FullError(Error):
    """ErrFull: try_send found no room."""


class EmptyError(Error):
    """ErrEmpty: try_recv found no message."""


class TooLargeError(Error, ValueError):
    """ErrTooLarge: the message or value is larger than the maximum."""


class PeerGoneError(Error):
    """ErrPeerGone: the peer's process died without closing its end."""


class CorruptError(Error):
    """ErrCorrupt: the shared memory breaks the layout (docs/layout.md)."""


class NotChannelError(Error):
    """ErrNotChannel: the segment holds no channel or mailbox magic."""


class VersionMismatchError(Error):
    """ErrVersionMismatch: an unknown layout version or incompatible flags."""


class NotReadyError(Error):
    """ErrNotReady: the creator did not finish the header in time."""


class DeadlineExceededError(Error, TimeoutError):
    """os.ErrDeadlineExceeded: the timeout expired."""


class InvalidNameError(Error, ValueError):
    """ErrInvalidName: 1 to 30 bytes of [A-Za-z0-9_.-], not starting with . or -."""


class InvalidSizeError(Error, ValueError):
    """ErrInvalidSize: a bad size or capacity."""


class IncompatibleError(Error):
    """ErrIncompatible: the existing object has other parameters."""


class ReadOnlyError(Error):
    """ErrReadOnly."""


class ExistError(Error, FileExistsError):
    """fs.ErrExist: the name exists."""


class NotExistError(Error, FileNotFoundError):
    """fs.ErrNotExist: no object of that name."""


class PermissionDeniedError(Error, PermissionError):
    """fs.ErrPermission."""


class NoSpaceError(Error, OSError):
    """ErrNoSpace: no room for the segment (/dev/shm full)."""


class ShortBufferError(Error):
    """io.ErrShortBuffer: the buffer is smaller than the message or value."""


class InvalidError(Error, ValueError):
    """An invalid argument or a call out of sequence (Go panics)."""


class UnsupportedError(Error, NotImplementedError):
    """errors.ErrUnsupported: not on this platform."""


class SystemCallError(Error, OSError):
    """Another OS error; ``errno`` holds it."""


# The C codes of shmchan.h's enum shmchan_error.
OK = 0
_BY_CODE = {
    -1: EOF,
    -2: ClosedError,
    -3: BusyError,
    -4: FullError,
    -5: EmptyError,
    -6: TooLargeError,
    -7: PeerGoneError,
    -8: CorruptError,
    -9: NotChannelError,
    -10: VersionMismatchError,
    -11: NotReadyError,
    -12: DeadlineExceededError,
    -13: InvalidNameError,
    -14: InvalidSizeError,
    -15: IncompatibleError,
    -16: ReadOnlyError,
    -17: ExistError,
    -18: NotExistError,
    -19: PermissionDeniedError,
    -20: NoSpaceError,
    -21: ShortBufferError,
    -22: InvalidError,
    -23: UnsupportedError,
    -24: SystemCallError,
}
# Codes after which errno holds the cause (shmchan.h, "Conventions").
_ERRNO_CODES = {-17, -18, -19, -20, -24}

_strerror_fn = None


def _strerror(code):
    if _strerror_fn is not None:
        return _strerror_fn(code)
    return "shmchan error %d" % code


def error_class(code):
    """Returns the exception class for a negative C code (Error if unknown,
    so a code added to the library later still raises an Error)."""
    return _BY_CODE.get(code, Error)


def make_error(op, name, code, err=0):
    """Returns the exception for a failed call: code is the negative return
    value, err the errno read right after it."""
    cls = error_class(code)
    e = cls(op, name, code, err if code in _ERRNO_CODES else 0)
    if isinstance(e, OSError) and code in _ERRNO_CODES and err:
        e.errno = err
    if cls is Error:
        e.code = code
    return e


__all__ = [n for n, v in list(globals().items()) if isinstance(v, type) and issubclass(v, Error)] + ["error_class"]
