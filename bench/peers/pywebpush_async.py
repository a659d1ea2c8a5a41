"""pywebpush `webpush_async`, 100 concurrent sends over one shared aiohttp session.

Given every advantage a careful user could give it: uvloop, a keep-alive connector sized to
the concurrency, and one parsed Vapid key object (pywebpush still signs a JWT per message).
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from typing import Any

import aiohttp
import uvloop
from py_vapid import Vapid
from pywebpush import webpush_async

from bench.peers.common import MainThread, PeerResult, emit, load_subscriptions, peer_args


async def _send_all(subs: list[dict[str, Any]], args: Any) -> PeerResult:
    vapid_conf = json.loads(args.vapid.read_text())
    vapid = Vapid.from_string(private_key=vapid_conf["private_key"])
    data = args.payload.read_text()
    ctx = ssl.create_default_context(cafile=str(args.ca))
    connector = aiohttp.TCPConnector(limit=args.concurrency, ssl=ctx)
    result = PeerResult(len(subs), 0, 0, 0.0, [])
    todo = iter(subs)

    async def worker(session: aiohttp.ClientSession) -> None:
        for sub in todo:
            try:
                resp = await webpush_async(
                    sub,
                    data,
                    vapid_private_key=vapid,
                    vapid_claims={"sub": vapid_conf["subject"]},  # fresh: pywebpush writes aud
                    ttl=args.ttl,
                    timeout=args.timeout,
                    aiohttp_session=session,
                )
                result.ok += getattr(resp, "status", 0) == 201
            except Exception as exc:  # count and go on, as a sender must
                result.failed += 1
                result.errors.append(repr(exc)[:200])

    main = MainThread()
    async with aiohttp.ClientSession(connector=connector) as session:
        main.start()
        start = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(args.concurrency)))
        result.seconds = time.perf_counter() - start
        main.stop(result)
    return result


def main() -> None:
    args = peer_args(__doc__ or "")
    subs = load_subscriptions(args.subs)
    emit(uvloop.run(_send_all(subs, args)))


if __name__ == "__main__":
    main()
