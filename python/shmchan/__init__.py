"""shmchan: shared-memory channels and mailboxes between processes on one
machine, over the shmchan C library (libshmchan.so, loaded with ctypes).

A Python process talks to Go (github.com/shmchan/shmchan/shm), C or other
Python processes through the same shared-memory layout (docs/layout.md):

    with shmchan.Channel.create("ticks", 1 << 20, remove_on_close=True) as ch:
        ch.send(b"hello")

    with shmchan.Channel.open("ticks") as ch:
        for msg in ch.receiver():   # until the sender closes (EOF)
            print(msg)

Errors are exceptions mirroring the Go errors (shmchan.errors): EOF for
io.EOF, PeerGoneError for ErrPeerGone, and so on. See docs/python.md.
"""

from .channel import Channel, Receiver, Sender, remove
from .errors import (EOF, BusyError, ClosedError, CorruptError, DeadlineExceededError, EmptyError, Error,
                     ExistError, FullError, IncompatibleError, InvalidError, InvalidNameError, InvalidSizeError,
                     NoSpaceError, NotChannelError, NotExistError, NotReadyError, PeerGoneError,
                     PermissionDeniedError, ReadOnlyError, ShortBufferError, SystemCallError, TooLargeError,
                     UnsupportedError, VersionMismatchError)
from .mailbox import Mailbox

__all__ = [
    "Channel", "Sender", "Receiver", "Mailbox", "remove",
    "Error", "EOF", "BusyError", "ClosedError", "CorruptError", "DeadlineExceededError", "EmptyError",
    "ExistError", "FullError", "IncompatibleError", "InvalidError", "InvalidNameError", "InvalidSizeError",
    "NoSpaceError", "NotChannelError", "NotExistError", "NotReadyError", "PeerGoneError",
    "PermissionDeniedError", "ReadOnlyError", "ShortBufferError", "SystemCallError", "TooLargeError",
    "UnsupportedError", "VersionMismatchError",
]
