"""The encryption-only ceiling: pushgate's own RFC 8291 `encrypt` for every subscriber, no
network, in 1 or N processes. No sender can beat this; the table's last ratio is against it."""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from bench.peers.common import PeerResult, emit, load_subscriptions
from pushgate.webpush.encryption import encrypt

Keys = list[tuple[str, str]]


def _encrypt_share(keys: Keys, plaintext: bytes, barrier: Barrier, out: Any) -> None:
    barrier.wait()
    start = time.time()
    for p256dh, auth in keys:
        encrypt(plaintext, p256dh, auth)
    out.put((start, time.time(), len(keys)))


def run(keys: Keys, plaintext: bytes, processes: int) -> PeerResult:
    ctx = mp.get_context("fork")  # the children inherit the loaded keys without pickling
    barrier, out = ctx.Barrier(processes), ctx.Queue()
    shares = [keys[i::processes] for i in range(processes)]
    children = [
        ctx.Process(target=_encrypt_share, args=(share, plaintext, barrier, out))
        for share in shares
    ]
    for child in children:
        child.start()
    spans = [out.get(timeout=600) for _ in children]
    for child in children:
        child.join()
    seconds = max(s[1] for s in spans) - min(s[0] for s in spans)
    done = sum(s[2] for s in spans)
    return PeerResult(len(keys), done, len(keys) - done, seconds, [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subs", type=Path, required=True)
    parser.add_argument("--payload", type=Path, required=True)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    subs = load_subscriptions(args.subs)
    keys = [(s["keys"]["p256dh"], s["keys"]["auth"]) for s in subs]
    emit(run(keys, args.payload.read_bytes(), args.processes))


if __name__ == "__main__":
    main()
