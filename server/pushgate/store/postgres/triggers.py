"""PostgreSQL verbs for triggers: as store/sqlite/triggers.py; due runs are claimed with
FOR UPDATE SKIP LOCKED, so that one gateway of many performs each."""

from __future__ import annotations

import json
from collections.abc import Sequence

import asyncpg

from pushgate.store.automation_models import DueRun, PendingEvent, RunCancel, RunStart, Trigger
from pushgate.store.base import TriggerExists
from pushgate.store.postgres.connection import PostgresConnections
from pushgate.store.trigger_rows import (
    COLUMNS,
    DUE_RUNS,
    EVENTS,
    WITH_PENDING,
    due_run_from,
    event_from,
    trigger_from,
    values,
)


class TriggerVerbs(PostgresConnections):
    async def create_trigger(self, trigger: Trigger) -> Trigger:
        async with self._transaction() as conn:
            status = await conn.execute(
                f"INSERT INTO triggers ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
                "ON CONFLICT DO NOTHING",
                *values(trigger),
            )
            if status == "INSERT 0 0":
                raise TriggerExists(trigger.name)
        return trigger

    async def get_trigger(self, site_id: str, trigger_id: str) -> Trigger | None:
        row = await self._one(
            f"{WITH_PENDING} WHERE t.site_id = $1 AND t.id = $2", site_id, trigger_id
        )
        return trigger_from(row) if row else None

    async def list_triggers(self, site_id: str) -> list[Trigger]:
        rows = await self._all(
            f"{WITH_PENDING} WHERE t.site_id = $1 ORDER BY t.created_at, t.id", site_id
        )
        return [trigger_from(row) for row in rows]

    async def enabled_triggers(self, site_id: str) -> list[Trigger]:
        rows = await self._all(
            f"SELECT {COLUMNS} FROM triggers WHERE site_id = $1 AND enabled", site_id
        )
        return [trigger_from(row) for row in rows]

    async def replace_trigger(self, trigger: Trigger) -> Trigger | None:
        """Name, definition and enabled; its pending runs keep their due times."""
        try:
            async with self._transaction() as conn:
                status = await conn.execute(
                    "UPDATE triggers SET name = $1, definition = $2, enabled = $3, "
                    "updated_at = $4 WHERE site_id = $5 AND id = $6",
                    trigger.name, json.dumps(trigger.definition), trigger.enabled,
                    trigger.updated_at, trigger.site_id, trigger.id,
                )  # fmt: skip
        except asyncpg.UniqueViolationError:
            raise TriggerExists(trigger.name) from None
        if status == "UPDATE 0":
            return None
        return await self.get_trigger(trigger.site_id, trigger.id)

    async def delete_trigger(self, site_id: str, trigger_id: str) -> bool:
        async with self._transaction() as conn:
            status = await conn.execute(
                "DELETE FROM triggers WHERE site_id = $1 AND id = $2", site_id, trigger_id
            )
        return bool(status != "DELETE 0")

    async def unprocessed_events(self, limit: int) -> list[PendingEvent]:
        rows = await self._all(f"{EVENTS} WHERE NOT e.processed ORDER BY e.key LIMIT $1", limit)
        return [event_from(row) for row in rows]

    async def apply_trigger_changes(
        self, changes: Sequence[RunStart | RunCancel], event_keys: Sequence[int], now: float
    ) -> None:
        """In one transaction: the runs the events start or cancel, in the events' order, and
        the events marked read."""
        async with self._transaction() as conn:
            for change in changes:
                if isinstance(change, RunStart):
                    await _start(conn, change)
                else:
                    await _cancel(conn, change, now)
            await conn.execute(
                "UPDATE tracked_events SET processed = TRUE WHERE key = ANY($1::bigint[])",
                list(event_keys),
            )

    async def claim_due_runs(self, now: float, lease_until: float, limit: int) -> list[DueRun]:
        """Pending runs due by `now` that no processor holds, held until `lease_until`; of
        enabled triggers only (a disabled trigger's runs wait)."""
        async with self._transaction() as conn:
            keys = await conn.fetch(
                "UPDATE trigger_runs SET leased_until = $1 WHERE key IN (SELECT r.key FROM "
                "trigger_runs r JOIN triggers t ON t.id = r.trigger_id WHERE r.state = 'pending' "
                "AND r.due_at <= $2 AND r.leased_until <= $2 AND t.enabled "
                "ORDER BY r.due_at LIMIT $3 FOR UPDATE OF r SKIP LOCKED) RETURNING key",
                lease_until,
                now,
                limit,
            )
            rows = await conn.fetch(
                f"{DUE_RUNS} WHERE r.key = ANY($1::bigint[]) ORDER BY r.due_at",
                [row["key"] for row in keys],
            )
        return [due_run_from(row) for row in rows]

    async def finish_run(self, run: DueRun, now: float, *, fired: bool = True) -> None:
        """The run is over: fired (counted once), or failed (its action could not be
        taken: a template that did not render, too many tags)."""
        async with self._transaction() as conn:
            status = await conn.execute(
                "UPDATE trigger_runs SET state = $3, finished_at = $1 "
                "WHERE key = $2 AND state = 'pending'",
                now,
                run.key,
                "fired" if fired else "failed",
            )
            if status != "UPDATE 0" and fired:
                await conn.execute(
                    "UPDATE triggers SET fired = fired + 1 WHERE id = $1", run.trigger_id
                )


async def _start(conn: asyncpg.Connection, start: RunStart) -> None:
    if start.restart:
        status = await conn.execute(
            "UPDATE trigger_runs SET event = $1, started_at = $2, due_at = $3, leased_until = 0 "
            "WHERE trigger_id = $4 AND user_key = $5 AND group_value = $6 AND state = 'pending'",
            json.dumps(start.event), start.started_at, start.due_at, start.trigger_id,
            start.user_key, start.group_value,
        )  # fmt: skip
        if status != "UPDATE 0":
            return
    await conn.execute(
        "INSERT INTO trigger_runs (trigger_id, user_key, group_value, event, started_at, "
        "due_at, state) VALUES ($1, $2, $3, $4, $5, $6, 'pending')",
        start.trigger_id, start.user_key, start.group_value, json.dumps(start.event),
        start.started_at, start.due_at,
    )  # fmt: skip


async def _cancel(conn: asyncpg.Connection, cancel: RunCancel, now: float) -> None:
    status = await conn.execute(
        "UPDATE trigger_runs SET state = 'cancelled', finished_at = $1 WHERE trigger_id = $2 "
        "AND user_key = $3 AND ($4::text IS NULL OR group_value = $4) AND state = 'pending' "
        "AND started_at <= $5 AND started_at >= $6 AND due_at > $5",
        now, cancel.trigger_id, cancel.user_key, cancel.group_value, cancel.at,
        cancel.at - cancel.within,
    )  # fmt: skip
    cancelled = int(status.split()[-1])
    if cancelled:
        await conn.execute(
            "UPDATE triggers SET cancelled = cancelled + $1 WHERE id = $2",
            cancelled,
            cancel.trigger_id,
        )
