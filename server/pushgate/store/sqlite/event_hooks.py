"""SQLite verbs for event hooks, their outbox and attempts (rows as store/event_hook_rows.py
makes them)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pushgate.store.event_hook_rows import (
    COLUMNS,
    OUTBOX_COLUMNS,
    AttemptResult,
    EventHook,
    HookAttempt,
    HookEvent,
    attempt_from,
    event_from,
    hook_from,
    hook_values,
    outbox_values,
)
from pushgate.store.sqlite.connection import SQLiteConnections


class EventHookVerbs(SQLiteConnections):
    async def create_event_hook(self, hook: EventHook) -> None:
        async with self._transaction() as db:
            await db.execute(
                f"INSERT INTO event_hooks ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                hook_values(hook, self._sealer),
            )

    async def list_event_hooks(self, site_id: str) -> list[EventHook]:
        rows = await self._all(
            f"SELECT {COLUMNS} FROM event_hooks WHERE site_id = ? ORDER BY created_at, id",
            (site_id,),
        )
        return [hook_from(row, self._sealer) for row in rows]

    async def get_event_hook(self, site_id: str, hook_id: str) -> EventHook | None:
        row = await self._one(
            f"SELECT {COLUMNS} FROM event_hooks WHERE site_id = ? AND id = ?", (site_id, hook_id)
        )
        return hook_from(row, self._sealer) if row else None

    async def delete_event_hook(self, site_id: str, hook_id: str) -> bool:
        async with self._transaction() as db:
            cur = await db.execute(
                "DELETE FROM event_hooks WHERE site_id = ? AND id = ?", (site_id, hook_id)
            )
            return cur.rowcount > 0

    async def notification_site(self, notification_key: int) -> str | None:
        row = await self._one(
            "SELECT site_id FROM notifications WHERE key = ?", (notification_key,)
        )
        return str(row[0]) if row else None

    async def subscription_id_by_endpoint(self, site_id: str, endpoint: str) -> str | None:
        row = await self._one(
            "SELECT id FROM subscriptions WHERE site_id = ? AND endpoint = ?", (site_id, endpoint)
        )
        return str(row[0]) if row else None

    async def event_hook_routes(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """Every hook as (site id, hook id, event types): what the capture's cache holds."""
        rows = await self._all("SELECT site_id, id, events FROM event_hooks")
        return [(row[0], row[1], tuple(json.loads(row[2]))) for row in rows]

    async def enqueue_hook_events(self, rows: Sequence[tuple[str, HookEvent]]) -> None:
        if not rows:
            return
        async with self._transaction(durable=False) as db:
            await db.executemany(
                f"INSERT INTO event_hook_outbox ({OUTBOX_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                [outbox_values(hook_id, event) for hook_id, event in rows],
            )

    async def enqueue_delivery_events(
        self,
        hook_ids: Sequence[str],
        kind: str,
        notification_key: int,
        subscription_keys: Sequence[int],
        at: float,
        action: str | None = None,
    ) -> None:
        """One `kind` event per hook and subscription of a notification, in one statement per
        hook: the ids are read from the rows the keys name."""
        if not hook_ids or not subscription_keys:
            return
        keys = json.dumps(list(subscription_keys))
        async with self._transaction(durable=False) as db:
            for hook_id in hook_ids:
                await db.execute(
                    f"INSERT INTO event_hook_outbox ({OUTBOX_COLUMNS}) "
                    "SELECT ?, ?, ?, n.id, s.id, ? FROM notifications n, subscriptions s "
                    "WHERE n.key = ? AND s.key IN (SELECT value FROM json_each(?))",
                    (hook_id, kind, at, action, notification_key, keys),
                )

    async def claim_event_hooks(self, now: float, until: float, limit: int) -> list[EventHook]:
        """Lease up to `limit` hooks that have events waiting and are due (not backing off,
        not leased by another gateway) until `until`."""
        async with self._transaction(durable=False) as db:
            cur = await db.execute(
                f"SELECT {COLUMNS} FROM event_hooks h WHERE next_attempt_at <= ? "
                "AND leased_until <= ? AND EXISTS "
                "(SELECT 1 FROM event_hook_outbox o WHERE o.hook_id = h.id) LIMIT ?",
                (now, now, limit),
            )
            rows = list(await cur.fetchall())
            await db.executemany(
                "UPDATE event_hooks SET leased_until = ? WHERE id = ?",
                [(until, row["id"]) for row in rows],
            )
        return [hook_from(row, self._sealer) for row in rows]

    async def hook_outbox(self, hook_id: str, limit: int) -> list[tuple[int, HookEvent]]:
        rows = await self._all(
            f"SELECT key, {OUTBOX_COLUMNS} FROM event_hook_outbox WHERE hook_id = ? "
            "ORDER BY key LIMIT ?",
            (hook_id, limit),
        )
        return [event_from(row) for row in rows]

    async def drop_hook_events(self, hook_id: str, before: float) -> int:
        """Give up the hook's events that happened before `before`; how many, also counted."""
        async with self._transaction(durable=False) as db:
            cur = await db.execute(
                "DELETE FROM event_hook_outbox WHERE hook_id = ? AND at < ?", (hook_id, before)
            )
            if cur.rowcount:
                await db.execute(
                    "UPDATE event_hooks SET dropped = dropped + ? WHERE id = ?",
                    (cur.rowcount, hook_id),
                )
            return cur.rowcount

    async def finish_hook_attempt(self, hook_id: str, result: AttemptResult, keep: int) -> None:
        """Record the attempt (keeping the last `keep`), delete what was sent, set the backoff
        and release the lease, in one transaction."""
        a = result.attempt
        async with self._transaction(durable=False) as db:
            if a is not None:
                await self._insert_attempt(db, hook_id, a, keep)
            await db.execute(
                "DELETE FROM event_hook_outbox WHERE key IN (SELECT value FROM json_each(?))",
                (json.dumps(list(result.sent_keys)),),
            )
            await db.execute(
                "UPDATE event_hooks SET next_attempt_at = ?, backoff = ?, leased_until = ? "
                "WHERE id = ?",
                (result.next_attempt_at, result.backoff, result.leased_until, hook_id),
            )

    @staticmethod
    async def _insert_attempt(db: Any, hook_id: str, a: HookAttempt, keep: int) -> None:
        """The attempt, and the hook's attempts but the last `keep` deleted."""
        await db.execute(
            "INSERT INTO event_hook_attempts (hook_id, at, status, error, event_count) "
            "VALUES (?, ?, ?, ?, ?)",
            (hook_id, a.at, a.status, a.error, a.event_count),
        )
        await db.execute(
            "DELETE FROM event_hook_attempts WHERE hook_id = ? AND key <= "
            "(SELECT key FROM event_hook_attempts WHERE hook_id = ? "
            "ORDER BY key DESC LIMIT 1 OFFSET ?)",
            (hook_id, hook_id, keep),
        )

    async def hook_attempts(self, hook_id: str, limit: int) -> list[HookAttempt]:
        """The newest first."""
        rows = await self._all(
            "SELECT at, status, error, event_count FROM event_hook_attempts WHERE hook_id = ? "
            "ORDER BY key DESC LIMIT ?",
            (hook_id, limit),
        )
        return [attempt_from(row) for row in rows]
