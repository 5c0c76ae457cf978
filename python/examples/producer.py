#!/usr/bin/env python3
"""producer.py NAME [COUNT]: the Python counterpart of examples/c/producer.c.
Sends COUNT text messages ("message 0", "message 1", ...) on the channel NAME
and closes its end. Pair it with the Go consumer (or the C one):

    make -C shm/c                                   # builds shm/c/build/libshmchan.so
    go run ./examples/c/go/consumer hello &
    /usr/bin/python3 python/examples/producer.py hello 5
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import shmchan  # noqa: E402


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: producer.py NAME [COUNT]")
    name, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) == 3 else 10
    # Open the consumer's channel, or create it (64 KiB, as the consumers do)
    # if the producer comes first.
    ch, _ = shmchan.Channel.open_or_create(name, 1 << 16, wait="block")
    with ch, ch.sender() as tx:
        for i in range(count):
            tx.send(b"message %d" % i)
    # Leaving the with blocks closed the sender (the consumer gets EOF after
    # the last message) and then the channel.


if __name__ == "__main__":
    main()
