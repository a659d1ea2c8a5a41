"""The retention job: per-delivery rows (deliveries, events) of notifications older than
PUSHGATE_DELIVERY_RETENTION are pruned in small batches, with the hourly roll-ups of that age;
notification counters and daily roll-ups are kept for ever.

It runs in every `serve`, but once across a cluster: each pass first takes a lease in the
store (one row of `meta`), which only one gateway holds at a time. Time is the app's clock, so
that tests move it instead of waiting a month."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from pushgate.api.context import AppContext

log = logging.getLogger("pushgate.retention")

JOB = "retention"
TICK_SECONDS = 60.0  # how often (by the app's clock) a gateway tries to take the job
WAKE_SECONDS = 1.0  # real seconds between looks at the clock: a test clock's jump is seen soon
LEASE_SECONDS = 300.0  # a pass holds the job this long at most; another takes over after
BATCH_ROWS = 1000  # rows deleted per transaction: short, so sends are never held up
MAX_BATCHES_PER_PASS = 200  # then the lease is given back to the tick


async def prune_once(ctx: AppContext, *, batch: int = BATCH_ROWS) -> int | None:
    """One pass, if this gateway gets the lease: how many rows went (None: another holds it)."""
    now = ctx.clock()
    if not await ctx.store.take_job_lease(JOB, now, now + LEASE_SECONDS):
        return None
    cutoff = now - ctx.settings.delivery_retention_seconds
    removed = 0
    for _ in range(MAX_BATCHES_PER_PASS):
        done = await ctx.store.prune_delivery_rows(cutoff, batch)
        removed += done
        if not done:
            break
        await asyncio.sleep(0)  # let requests in between batches
    if removed:
        log.info("retention: pruned %d per-delivery rows older than %s", removed, cutoff)
    return removed


async def run(ctx: AppContext, tick: float) -> None:
    due = 0.0
    while True:
        if ctx.clock() >= due:
            due = ctx.clock() + tick
            try:
                await prune_once(ctx)
            except Exception as exc:  # the database is away, say: try again next tick
                log.warning("retention: %s", exc)
        await asyncio.sleep(WAKE_SECONDS)


@contextlib.asynccontextmanager
async def running_retention(ctx: AppContext, tick: float = TICK_SECONDS) -> AsyncIterator[None]:
    """Prune in the background while the app runs."""
    task = asyncio.create_task(run(ctx, tick))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
