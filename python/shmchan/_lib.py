"""Loading libshmchan.so and declaring the C functions of shmchan.h used here.

Only the public API of shm/c/shmchan.h is used. The one struct this binding
lays out itself, shmchan_options, is never allocated at its Python size: the
binding hands shmchan_options_init a zeroed block much larger than the
struct and then sets the fields it knows by name, so that fields a later
version of the library appends get the library's own defaults.
"""

import ctypes
import ctypes.util
import os

from . import errors

_here = os.path.dirname(os.path.abspath(__file__))

# Where libshmchan.so is looked for, in order.
LIBRARY_ENV = "SHMCHAN_LIBRARY"


def _candidates():
    env = os.environ.get(LIBRARY_ENV)
    if env:
        yield env
        return
    yield os.path.join(_here, "libshmchan.so")  # a copy beside the package
    # The repository's build: python/shmchan -> shm/c/build (make -C shm/c).
    yield os.path.join(_here, "..", "..", "shm", "c", "build", "libshmchan.so")
    found = ctypes.util.find_library("shmchan")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(path)
            continue
        try:
            return ctypes.CDLL(path, use_errno=True)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError(
        "shmchan: cannot load libshmchan.so; build it with `make -C shm/c` or set %s. Tried: %s"
        % (LIBRARY_ENV, ", ".join(tried) or "nothing")
    )


lib = _load()

c_int, c_int64, c_uint64, c_uint32, c_size_t = (
    ctypes.c_int, ctypes.c_int64, ctypes.c_uint64, ctypes.c_uint32, ctypes.c_size_t)
c_void_p, c_char_p = ctypes.c_void_p, ctypes.c_char_p
P = ctypes.POINTER


class Options(ctypes.Structure):
    """The leading fields of struct shmchan_options, as shmchan.h declares them."""

    _fields_ = [
        ("mode", c_uint32),
        ("read_only", c_int),
        ("remove_on_close", c_int),
        ("open_timeout_ns", c_int64),
        ("wait", c_int),
        ("global_", c_int),
    ]


# Room for struct shmchan_options to grow: 8-byte aligned, far larger than
# today's 32 bytes.
_OPTIONS_ROOM = 64  # uint64 words


def _fn(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


strerror = _fn("shmchan_strerror", c_char_p, c_int)
options_init = _fn("shmchan_options_init", None, c_void_p)

channel_create = _fn("shmchan_channel_create", c_int, c_char_p, c_uint64, c_void_p, P(c_void_p))
channel_open = _fn("shmchan_channel_open", c_int, c_char_p, c_void_p, P(c_void_p))
channel_open_or_create = _fn("shmchan_channel_open_or_create", c_int,
                             c_char_p, c_uint64, c_void_p, P(c_void_p), P(c_int))
channel_close = _fn("shmchan_channel_close", c_int, c_void_p)
channel_capacity = _fn("shmchan_channel_capacity", c_uint64, c_void_p)
channel_max_message = _fn("shmchan_channel_max_message", c_uint64, c_void_p)
channel_sender = _fn("shmchan_channel_sender", c_int, c_void_p, P(c_void_p))
channel_receiver = _fn("shmchan_channel_receiver", c_int, c_void_p, P(c_void_p))

send = _fn("shmchan_send", c_int, c_void_p, c_void_p, c_size_t, c_int64)
try_send = _fn("shmchan_try_send", c_int, c_void_p, c_void_p, c_size_t)
sender_close = _fn("shmchan_sender_close", c_int, c_void_p)

peek = _fn("shmchan_peek", c_int, c_void_p, P(c_void_p), P(c_size_t), c_int64)
try_peek = _fn("shmchan_try_peek", c_int, c_void_p, P(c_void_p), P(c_size_t))
release = _fn("shmchan_release", c_int, c_void_p)
receiver_close = _fn("shmchan_receiver_close", c_int, c_void_p)

segment_remove = _fn("shmchan_segment_remove", c_int, c_char_p)

mailbox_size = _fn("shmchan_mailbox_size", c_uint64, c_uint64)
mailbox_create = _fn("shmchan_mailbox_create", c_int, c_char_p, c_uint64, c_void_p, P(c_void_p))
mailbox_open = _fn("shmchan_mailbox_open", c_int, c_char_p, c_void_p, P(c_void_p))
mailbox_open_or_create = _fn("shmchan_mailbox_open_or_create", c_int,
                             c_char_p, c_uint64, c_void_p, P(c_void_p), P(c_int))
mailbox_close = _fn("shmchan_mailbox_close", c_int, c_void_p)
mailbox_max_value = _fn("shmchan_mailbox_max_value", c_uint64, c_void_p)
mailbox_publish = _fn("shmchan_mailbox_publish", c_int, c_void_p, c_void_p, c_size_t, P(c_uint64))
mailbox_version = _fn("shmchan_mailbox_version", c_int, c_void_p, P(c_uint64))
mailbox_latest = _fn("shmchan_mailbox_latest", c_int, c_void_p, c_void_p, c_size_t,
                     P(c_size_t), P(c_uint64))
mailbox_wait_newer = _fn("shmchan_mailbox_wait_newer", c_int, c_void_p, c_uint64, c_void_p, c_size_t,
                         P(c_size_t), P(c_uint64), c_int64)

errors._strerror_fn = lambda code: strerror(code).decode("utf-8", "replace")

WAITS = {"adaptive": 0, "spin": 1, "block": 2}
FOREVER = -1


def make_options(mode=None, remove_on_close=False, open_timeout=None, wait="adaptive", read_only=False):
    """Returns a block initialised by shmchan_options_init, with the given
    fields set. Keep it alive for the duration of the call it is passed to."""
    if wait not in WAITS:
        raise ValueError("shmchan: wait must be one of %s, not %r" % (", ".join(WAITS), wait))
    block = (ctypes.c_uint64 * _OPTIONS_ROOM)()
    options_init(block)
    o = Options.from_buffer(block)
    if mode is not None:
        o.mode = mode
    o.remove_on_close = 1 if remove_on_close else 0
    o.read_only = 1 if read_only else 0
    if open_timeout is not None:
        o.open_timeout_ns = timeout_ns(open_timeout)
    o.wait = WAITS[wait]
    return block


def _check_options_prefix():
    # The defaults shmchan.h documents: a library whose struct no longer
    # starts with these fields fails here, at import, not in a call.
    block = (ctypes.c_uint64 * _OPTIONS_ROOM)()
    options_init(block)
    o = Options.from_buffer(block)
    if o.mode != 0o600 or o.open_timeout_ns != 2_000_000_000 or o.wait != 0:
        raise ImportError(
            "shmchan: this libshmchan.so's shmchan_options does not start with the fields of the "
            "header this binding was written for (mode=%o open_timeout_ns=%d wait=%d)"
            % (o.mode, o.open_timeout_ns, o.wait))


_check_options_prefix()


def timeout_ns(seconds):
    """Seconds (a float, or None for no limit) to the C timeout in nanoseconds."""
    if seconds is None:
        return FOREVER
    if seconds < 0:
        raise ValueError("shmchan: negative timeout %r" % (seconds,))
    return int(seconds * 1e9)


def encode_name(name):
    if isinstance(name, str):
        return name.encode("utf-8")
    return bytes(name)


def check(rc, op, name):
    """Raises the exception for rc if it is an error; returns rc otherwise."""
    if rc < 0:
        raise errors.make_error(op, name, rc, ctypes.get_errno())
    return rc
