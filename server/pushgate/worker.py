"""`pushgate worker`: the delivery engine and its send workers without the HTTP server, for
gateways on PostgreSQL that split answering (`serve --no-deliver`) from sending."""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import AsyncExitStack

from pushgate.app import start_engine
from pushgate.clock import wall_clock_from_env
from pushgate.settings import Settings
from pushgate.store import open_store

log = logging.getLogger("pushgate")


async def run_worker(settings: Settings) -> None:
    """Deliver until SIGTERM or SIGINT, then stop as serve does: take no new batches, let the
    messages in flight be answered and recorded (up to the push timeout), release the rest."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(
            open_store(settings, migrate=not settings.no_migrate)
        )
        await start_engine(stack, settings, store, wall_clock_from_env())
        log.info(
            "pushgate worker delivering (%s)", "PostgreSQL" if settings.uses_postgres else "SQLite"
        )
        await stopping.wait()
        log.info("pushgate worker stopping")
