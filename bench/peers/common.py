"""What every Python peer shares: reading the subscriptions file, printing the result."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass
class PeerResult:
    sent: int
    ok: int
    failed: int
    seconds: float
    errors: list[str]
    # The main thread's seconds on a CPU and waiting for one (run queue) during the sends,
    # from /proc; None where there is no /proc. See MainThread.
    main_cpu_s: float | None = None
    main_wait_s: float | None = None


def _schedstat() -> tuple[float, float] | None:
    try:
        with open(f"/proc/self/task/{os.getpid()}/schedstat") as fh:
            run_ns, wait_ns, _ = fh.read().split()
    except (OSError, ValueError):
        return None
    return int(run_ns) / 1e9, int(wait_ns) / 1e9


class MainThread:
    """Times the main thread from `start()` to `stop(result)`: every peer's sends are CPU-bound
    on it, so a wait for a CPU while other work runs on the machine tells a busy machine apart
    from a slow library (node_send.js reports the same two figures)."""

    def __init__(self) -> None:
        self._before: tuple[float, float] | None = None

    def start(self) -> None:
        self._before = _schedstat()

    def stop(self, result: PeerResult) -> None:
        after = _schedstat()
        if self._before is not None and after is not None:
            result.main_cpu_s = after[0] - self._before[0]
            result.main_wait_s = after[1] - self._before[1]


def load_subscriptions(path: Path) -> list[dict[str, Any]]:
    with path.open() as fh:
        return [json.loads(line) for line in fh]


def peer_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--subs", type=Path, required=True, help="subscriptions, JSON lines")
    parser.add_argument("--vapid", type=Path, required=True, help="JSON {private_key, subject}")
    parser.add_argument("--payload", type=Path, required=True, help="plaintext to send")
    parser.add_argument("--ca", type=Path, required=True, help="CA certificate to trust")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--ttl", type=int, default=3600)
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    return parser.parse_args()


def emit(result: PeerResult) -> None:
    result.errors = result.errors[:5]
    json.dump(asdict(result), sys.stdout)
    sys.stdout.write("\n")
