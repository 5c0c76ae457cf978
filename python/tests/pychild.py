"""A Python child process of the tests: python3 pychild.py send NAME K
opens the channel NAME, sends K test messages, prints 'sent=K' and stays
until it is killed."""

import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import shmchan  # noqa: E402
from messages import message  # noqa: E402


def main():
    cmd, name, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
    assert cmd == "send", cmd
    ch = shmchan.Channel.open(name)
    tx = ch.sender()
    rng = random.Random(5)
    for i in range(k):
        tx.send(message(i, rng.randrange(1024), rng))
    print("sent=%d" % k, flush=True)
    time.sleep(3600)


if __name__ == "__main__":
    main()
