"""pywebpush's plain `webpush()` loop, one message at a time over one shared requests.Session."""

from __future__ import annotations

import json
import time
from typing import Any

import requests
from py_vapid import Vapid
from pywebpush import webpush

from bench.peers.common import MainThread, PeerResult, emit, load_subscriptions, peer_args


def send_all(subs: list[dict[str, Any]], args: Any) -> PeerResult:
    vapid_conf = json.loads(args.vapid.read_text())
    vapid = Vapid.from_string(private_key=vapid_conf["private_key"])
    data = args.payload.read_text()
    session = requests.Session()
    session.verify = str(args.ca)
    result = PeerResult(len(subs), 0, 0, 0.0, [])
    main = MainThread()
    main.start()
    start = time.perf_counter()
    for sub in subs:
        try:
            resp = webpush(
                sub,
                data,
                vapid_private_key=vapid,
                vapid_claims={"sub": vapid_conf["subject"]},
                ttl=args.ttl,
                timeout=args.timeout,
                requests_session=session,
            )
            result.ok += getattr(resp, "status_code", 0) == 201
        except Exception as exc:
            result.failed += 1
            result.errors.append(repr(exc)[:200])
    result.seconds = time.perf_counter() - start
    main.stop(result)
    return result


def main() -> None:
    args = peer_args(__doc__ or "")
    emit(send_all(load_subscriptions(args.subs), args))


if __name__ == "__main__":
    main()
