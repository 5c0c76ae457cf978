"""The message format of the tests, as python/tests/gopeer/main.go writes
and checks it: seq (u64 LE), crc32 of the payload (u32 LE), payload length
(u32 LE), payload."""

import os
import struct
import zlib

HEADER = struct.Struct("<QII")
_POOL = os.urandom(1 << 20)


def message(seq, n, rng):
    off = rng.randrange(len(_POOL) - n + 1)
    p = _POOL[off:off + n]
    return HEADER.pack(seq, zlib.crc32(p), n) + p


def check(msg, seq):
    """Returns what is wrong with msg as message seq, or None."""
    if len(msg) < HEADER.size:
        return "message %d: %d bytes, shorter than the header" % (seq, len(msg))
    got, crc, n = HEADER.unpack_from(msg)
    if got != seq:
        return "message %d: seq %d" % (seq, got)
    p = msg[HEADER.size:]
    if n != len(p):
        return "message %d: length %d in the header, %d received" % (seq, n, len(p))
    if zlib.crc32(p) != crc:
        return "message %d: crc mismatch" % seq
    return None


def size(rng, limit):
    """Mostly under 4 KiB, one in a hundred up to 60 KiB, as the Go peer."""
    n = rng.randrange(4096)
    if rng.randrange(100) == 0:
        n = rng.randrange(60 << 10)
    return min(n, limit - HEADER.size)


def parse(line):
    """Parses gopeer's 'key=value ...' result line."""
    out = {}
    for field in line.split():
        if "=" in field:
            k, v = field.split("=", 1)
            out[k] = v
    return out

