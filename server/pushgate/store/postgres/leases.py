"""What many gateways on one PostgreSQL database need from each other: lease renewal for the
deliveries an engine holds, wake-ups through LISTEN/NOTIFY (polling stays the fallback), and an
advisory lock for work that must run in one place at a time (a throttled notification)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence

import asyncpg

from pushgate.store.postgres.connection import PostgresConnections, unavailable_on_error

log = logging.getLogger("pushgate.store")

CHANNEL = "pushgate"
EXCLUSIVE_NAMESPACE = 1 << 62  # advisory lock ids of notifications; migrations use another
RELISTEN_SECONDS = 5.0  # after the listening connection is lost, try again this often


class LeaseVerbs(PostgresConnections):
    _listener: asyncpg.pool.PoolConnectionProxy | None = None
    _relisten: asyncio.Task[None] | None = None
    _on_event: Callable[[str], None] | None = None
    _closing = False  # the store is closing: a lost listener is expected, not news

    async def renew_leases(
        self, notification_key: int, subscription_keys: Sequence[int], lease_until: float
    ) -> None:
        """Extend the lease of deliveries this engine still holds, so no other gateway takes
        them over while they are in flight."""
        if not subscription_keys:
            return
        # One primary-key probe per key (a filter over the notification's pending rows read
        # them all when the statistics were stale), and the update joined back by the keys
        # the probes found (`ctid IN (subquery)` became a scan of the whole table per row:
        # 60 s at 100,000; `deliveries.notification_key = $2` let the planner, for a
        # notification newer than the statistics, read all its deliveries and scan the held
        # keys for each: 30 s and more for 20,000 keys, the rows locked all along), with the
        # state tested outside the probe, which PostgreSQL would otherwise push into it.
        # Rows another transaction holds are being settled: skipped, not waited for.
        async with self._transaction(durable=False) as conn:
            await conn.execute(
                "WITH held AS (SELECT d.notification_key, d.subscription_key, d.state, d.leased "
                "FROM unnest($3::bigint[]) AS k(s) "
                "CROSS JOIN LATERAL (SELECT notification_key, subscription_key, state, leased "
                "FROM deliveries WHERE notification_key = $2 AND subscription_key = k.s "
                "FOR UPDATE SKIP LOCKED) AS d) "
                "UPDATE deliveries SET next_attempt_at = $1 FROM held "
                "WHERE deliveries.notification_key = held.notification_key "
                "AND deliveries.subscription_key = held.subscription_key "
                "AND held.state = 'pending' AND held.leased",
                lease_until,
                notification_key,
                sorted(subscription_keys),
            )

    async def announce(self, event: str) -> None:
        """Tell every gateway's engine (this one's too): "new" or "cancel:KEY"."""
        async with self._transaction() as conn:
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, event)

    async def listen(self, on_event: Callable[[str], None]) -> None:
        """Call `on_event` with each announcement, on a connection of its own. If that
        connection is lost, engines still poll; listening resumes when the database is back."""
        self._on_event = on_event
        try:
            await self._start_listening()
        except Exception as exc:  # the store may be down at start: poll until it is back
            log.warning("PostgreSQL: cannot listen for wake-ups yet (%s); polling", exc)
            self._schedule_relisten()

    @contextlib.asynccontextmanager
    async def exclusive(self, notification_key: int) -> AsyncIterator[bool]:
        """True while this process alone holds the notification's advisory lock (released
        when the block ends, or by the server when this process dies)."""
        lock_id = EXCLUSIVE_NAMESPACE | notification_key
        with unavailable_on_error():
            async with self._pool.acquire() as conn:
                held = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_id))
                try:
                    yield held
                finally:
                    if held:
                        with contextlib.suppress(Exception):
                            await conn.execute("SELECT pg_advisory_unlock($1)", lock_id)

    async def _start_listening(self) -> None:
        with unavailable_on_error():
            conn = await self._pool.acquire()
        try:
            await conn.add_listener(CHANNEL, self._heard)
            conn.add_termination_listener(self._lost)
        except BaseException:
            await self._pool.release(conn)
            raise
        self._listener = conn

    def _heard(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        if self._on_event is not None:
            self._on_event(str(payload))

    def _lost(self, _conn: object) -> None:
        if self._closing:
            return
        log.warning("PostgreSQL: the wake-up connection was lost; polling until it is back")
        self._listener = None
        self._schedule_relisten()

    def _schedule_relisten(self) -> None:
        if self._relisten is None or self._relisten.done():
            self._relisten = asyncio.create_task(self._listen_again())

    async def _listen_again(self) -> None:
        while self._listener is None:
            await asyncio.sleep(RELISTEN_SECONDS)
            with contextlib.suppress(Exception):
                await self._start_listening()

    async def _stop_listening(self) -> None:
        self._closing = True
        if self._relisten is not None:
            self._relisten.cancel()
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                await listener.remove_listener(CHANNEL, self._heard)
            with contextlib.suppress(Exception):
                await self._pool.release(listener)
