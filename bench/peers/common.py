"""What every Python peer shares: reading the subscriptions file, printing the result."""

from __future__ import annotations

import argparse
import json
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
