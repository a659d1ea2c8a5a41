"""The hook dispatcher: runs inside each `serve`, leases hooks that have events waiting (one
gateway of a cluster sends a hook's batches at a time, oldest events first), POSTs them in
batches of at most MAX_BATCH, records every attempt, and backs off after a failure (5 s,
doubling, at most an hour). Events still unsent RETRY_WINDOW_SECONDS after they happened are
dropped and counted on the hook. Due times read the app's (injectable) clock."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable

import aiohttp

from pushgate.hooks_out.sender import batch_body, hook_session, post_batch
from pushgate.store import Store
from pushgate.store.event_hook_rows import AttemptResult, EventHook, HookAttempt

log = logging.getLogger("pushgate.hooks")

TICK_SECONDS = 1.0  # how often hooks with waiting events are looked for: well within 5 s
LEASE_SECONDS = 120.0  # longer than BUSY_SECONDS plus one send's timeout
BUSY_SECONDS = 60.0  # one claim sends batch after batch for at most this long
HOOKS_PER_CLAIM = 8
MAX_BATCH = 100
FIRST_BACKOFF_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 3600.0
RETRY_WINDOW_SECONDS = 24 * 3600.0
KEEP_ATTEMPTS = 100  # per hook, for the dashboard


def next_backoff(previous: float) -> float:
    return FIRST_BACKOFF_SECONDS if previous <= 0 else min(previous * 2, MAX_BACKOFF_SECONDS)


class HookDispatcher:
    def __init__(
        self,
        store: Store,
        clock: Callable[[], float],
        allowed_hosts: Iterable[str],
        *,
        tick: float = TICK_SECONDS,
    ) -> None:
        self._store = store
        self._clock = clock
        self._allowed = tuple(allowed_hosts)
        self._tick = tick

    async def run(self) -> None:
        async with hook_session(self._allowed) as session:
            while True:
                try:
                    await self.send_due(session)
                except Exception as exc:  # the database is away, say: try again next tick
                    log.warning("event hooks: %s", exc)
                await asyncio.sleep(self._tick)

    async def send_due(self, session: aiohttp.ClientSession) -> int:
        """Send the waiting events of every due hook (hooks in parallel); how many hooks."""
        now = self._clock()
        hooks = await self._store.claim_event_hooks(now, now + LEASE_SECONDS, HOOKS_PER_CLAIM)
        await asyncio.gather(*(self._drain(session, hook) for hook in hooks))
        return len(hooks)

    async def _drain(self, session: aiohttp.ClientSession, hook: EventHook) -> None:
        """Batch after batch while the receiver takes full ones, holding the lease meanwhile;
        a hook that was backing off gets one try."""
        deadline = time.monotonic() + BUSY_SECONDS
        try:
            dropped = await self._store.drop_hook_events(
                hook.id, self._clock() - RETRY_WINDOW_SECONDS
            )
            if dropped:
                log.warning("event hook %s: %d events dropped after 24 h", hook.id, dropped)
            backoff = hook.backoff
            while True:
                last = backoff > 0 or time.monotonic() >= deadline
                backoff, more = await self._send_one(session, hook, backoff, keep=not last)
                if last or backoff or not more:
                    return
        except Exception as exc:  # never let one hook stop the others
            log.exception("event hook %s: %s", hook.id, exc)

    async def _send_one(
        self, session: aiohttp.ClientSession, hook: EventHook, backoff: float, *, keep: bool
    ) -> tuple[float, bool]:
        """One batch; (the backoff now, whether more may be waiting). `keep`: hold the lease
        after a full batch was taken, for the next one."""
        rows = await self._store.hook_outbox(hook.id, MAX_BATCH)
        now = self._clock()
        if not rows:
            await self._store.finish_hook_attempt(hook.id, AttemptResult(None, (), now, 0.0), 0)
            return 0.0, False
        body = batch_body([event for _, event in rows])
        answer = await post_batch(session, hook.url, hook.secret, body, self._allowed)
        now = self._clock()
        attempt = HookAttempt(now, answer.status, answer.error, len(rows))
        more = answer.ok and len(rows) == MAX_BATCH
        if answer.ok:
            lease = now + LEASE_SECONDS if more and keep else 0.0
            result = AttemptResult(attempt, [key for key, _ in rows], now, 0.0, lease)
            backoff = 0.0
        else:
            backoff = next_backoff(backoff)
            result = AttemptResult(attempt, (), now + backoff, backoff)
            log.warning("event hook %s: %s; next try in %g s", hook.id, answer.error, backoff)
        await self._store.finish_hook_attempt(hook.id, result, KEEP_ATTEMPTS)
        return backoff, more


@contextlib.asynccontextmanager
async def running_dispatcher(
    store: Store, clock: Callable[[], float], allowed_hosts: Iterable[str]
) -> AsyncIterator[HookDispatcher]:
    """Send hooks' events in the background while the app runs."""
    dispatcher = HookDispatcher(store, clock, allowed_hosts)
    task = asyncio.create_task(dispatcher.run(), name="pushgate-event-hooks")
    try:
        yield dispatcher
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
