"""PostgreSQL verbs for event hooks: as store/sqlite/event_hooks.py; a hook with events waiting
is claimed with FOR UPDATE SKIP LOCKED, so that one gateway of many sends its batch."""

from __future__ import annotations

import json
from collections.abc import Sequence

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
from pushgate.store.postgres.connection import PostgresConnections


class EventHookVerbs(PostgresConnections):
    async def create_event_hook(self, hook: EventHook) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                f"INSERT INTO event_hooks ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                *hook_values(hook, self._sealer),
            )

    async def list_event_hooks(self, site_id: str) -> list[EventHook]:
        rows = await self._all(
            f"SELECT {COLUMNS} FROM event_hooks WHERE site_id = $1 ORDER BY created_at, id",
            site_id,
        )
        return [hook_from(row, self._sealer) for row in rows]

    async def get_event_hook(self, site_id: str, hook_id: str) -> EventHook | None:
        row = await self._one(
            f"SELECT {COLUMNS} FROM event_hooks WHERE site_id = $1 AND id = $2", site_id, hook_id
        )
        return hook_from(row, self._sealer) if row else None

    async def delete_event_hook(self, site_id: str, hook_id: str) -> bool:
        async with self._transaction() as conn:
            status = await conn.execute(
                "DELETE FROM event_hooks WHERE site_id = $1 AND id = $2", site_id, hook_id
            )
        return bool(status != "DELETE 0")

    async def notification_site(self, notification_key: int) -> str | None:
        row = await self._one("SELECT site_id FROM notifications WHERE key = $1", notification_key)
        return str(row[0]) if row else None

    async def subscription_id_by_endpoint(self, site_id: str, endpoint: str) -> str | None:
        row = await self._one(
            "SELECT id FROM subscriptions WHERE site_id = $1 AND endpoint = $2", site_id, endpoint
        )
        return str(row[0]) if row else None

    async def event_hook_routes(self) -> list[tuple[str, str, tuple[str, ...]]]:
        rows = await self._all("SELECT site_id, id, events FROM event_hooks")
        return [(row[0], row[1], tuple(json.loads(row[2]))) for row in rows]

    async def enqueue_hook_events(self, rows: Sequence[tuple[str, HookEvent]]) -> None:
        if not rows:
            return
        async with self._transaction(durable=False) as conn:
            await conn.executemany(
                f"INSERT INTO event_hook_outbox ({OUTBOX_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)",
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
        if not hook_ids or not subscription_keys:
            return
        async with self._transaction(durable=False) as conn:
            await conn.execute(
                f"INSERT INTO event_hook_outbox ({OUTBOX_COLUMNS}) "
                "SELECT h, $2, $3, n.id, s.id, $6 FROM unnest($1::text[]) AS h, "
                "notifications n, subscriptions s "
                "WHERE n.key = $4 AND s.key = ANY($5::bigint[])",
                list(hook_ids), kind, at, notification_key, list(subscription_keys), action,
            )  # fmt: skip

    async def claim_event_hooks(self, now: float, until: float, limit: int) -> list[EventHook]:
        async with self._transaction(durable=False) as conn:
            rows = await conn.fetch(
                "UPDATE event_hooks SET leased_until = $1 WHERE id IN (SELECT h.id FROM "
                "event_hooks h WHERE h.next_attempt_at <= $2 AND h.leased_until <= $2 AND EXISTS "
                "(SELECT 1 FROM event_hook_outbox o WHERE o.hook_id = h.id) "
                f"LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING {COLUMNS}",
                until, now, limit,
            )  # fmt: skip
        return [hook_from(row, self._sealer) for row in rows]

    async def hook_outbox(self, hook_id: str, limit: int) -> list[tuple[int, HookEvent]]:
        rows = await self._all(
            f"SELECT key, {OUTBOX_COLUMNS} FROM event_hook_outbox WHERE hook_id = $1 "
            "ORDER BY key LIMIT $2",
            hook_id, limit,
        )  # fmt: skip
        return [event_from(row) for row in rows]

    async def drop_hook_events(self, hook_id: str, before: float) -> int:
        async with self._transaction(durable=False) as conn:
            status = await conn.execute(
                "DELETE FROM event_hook_outbox WHERE hook_id = $1 AND at < $2", hook_id, before
            )
            dropped = int(status.split()[-1])
            if dropped:
                await conn.execute(
                    "UPDATE event_hooks SET dropped = dropped + $1 WHERE id = $2", dropped, hook_id
                )
        return dropped

    async def finish_hook_attempt(self, hook_id: str, result: AttemptResult, keep: int) -> None:
        a = result.attempt
        async with self._transaction(durable=False) as conn:
            if a is not None:
                await conn.execute(
                    "INSERT INTO event_hook_attempts (hook_id, at, status, error, event_count) "
                    "VALUES ($1, $2, $3, $4, $5)",
                    hook_id, a.at, a.status, a.error, a.event_count,
                )  # fmt: skip
                await conn.execute(
                    "DELETE FROM event_hook_attempts WHERE hook_id = $1 AND key <= "
                    "(SELECT key FROM event_hook_attempts WHERE hook_id = $1 "
                    "ORDER BY key DESC LIMIT 1 OFFSET $2)",
                    hook_id, keep,
                )  # fmt: skip
            await conn.execute(
                "DELETE FROM event_hook_outbox WHERE key = ANY($1::bigint[])",
                list(result.sent_keys),
            )
            await conn.execute(
                "UPDATE event_hooks SET next_attempt_at = $1, backoff = $2, leased_until = $3 "
                "WHERE id = $4",
                result.next_attempt_at, result.backoff, result.leased_until, hook_id,
            )  # fmt: skip

    async def hook_attempts(self, hook_id: str, limit: int) -> list[HookAttempt]:
        rows = await self._all(
            "SELECT at, status, error, event_count FROM event_hook_attempts WHERE hook_id = $1 "
            "ORDER BY key DESC LIMIT $2",
            hook_id, limit,
        )  # fmt: skip
        return [attempt_from(row) for row in rows]
