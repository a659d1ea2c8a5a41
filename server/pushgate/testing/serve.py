"""Run the local push service as its own process (`pushgate push-service`, the demo)."""

from __future__ import annotations

import asyncio
import signal

from pushgate.testing.service import LocalPushService


def serve_forever(host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM, after printing where the service listens."""
    asyncio.run(_serve(host, port))


async def _serve(host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with LocalPushService(host, port) as service:
        print(
            f"local push service listening on {service.base_url} (WebSocket {service.ws_url})",
            flush=True,
        )
        await stop.wait()
