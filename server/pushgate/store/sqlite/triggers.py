"""SQLite verbs for triggers, their runs, and the tracked events the trigger processor reads."""

from __future__ import annotations

import json
from collections.abc import Sequence

import aiosqlite

from pushgate.store.automation_models import DueRun, PendingEvent, RunCancel, RunStart, Trigger
from pushgate.store.base import TriggerExists
from pushgate.store.sqlite.connection import SQLiteConnections
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


class TriggerVerbs(SQLiteConnections):
    async def create_trigger(self, trigger: Trigger) -> Trigger:
        async with self._transaction() as db:
            cur = await db.execute(
                f"INSERT OR IGNORE INTO triggers ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values(trigger),
            )
            if cur.rowcount == 0:
                raise TriggerExists(trigger.name)
        return trigger

    async def get_trigger(self, site_id: str, trigger_id: str) -> Trigger | None:
        row = await self._one(
            f"{WITH_PENDING} WHERE t.site_id = ? AND t.id = ?", (site_id, trigger_id)
        )
        return trigger_from(row) if row else None

    async def list_triggers(self, site_id: str) -> list[Trigger]:
        rows = await self._all(
            f"{WITH_PENDING} WHERE t.site_id = ? ORDER BY t.created_at, t.id", (site_id,)
        )
        return [trigger_from(row) for row in rows]

    async def enabled_triggers(self, site_id: str) -> list[Trigger]:
        rows = await self._all(
            f"SELECT {COLUMNS} FROM triggers WHERE site_id = ? AND enabled", (site_id,)
        )
        return [trigger_from(row) for row in rows]

    async def replace_trigger(self, trigger: Trigger) -> Trigger | None:
        """Name, definition and enabled; its pending runs keep their due times."""
        async with self._transaction() as db:
            try:
                cur = await db.execute(
                    "UPDATE triggers SET name = ?, definition = ?, enabled = ?, updated_at = ? "
                    "WHERE site_id = ? AND id = ?",
                    (
                        trigger.name, json.dumps(trigger.definition), trigger.enabled,
                        trigger.updated_at, trigger.site_id, trigger.id,
                    ),
                )  # fmt: skip
            except aiosqlite.IntegrityError:
                raise TriggerExists(trigger.name) from None
        return await self.get_trigger(trigger.site_id, trigger.id) if cur.rowcount else None

    async def delete_trigger(self, site_id: str, trigger_id: str) -> bool:
        async with self._transaction() as db:
            cur = await db.execute(
                "DELETE FROM triggers WHERE site_id = ? AND id = ?", (site_id, trigger_id)
            )
        return cur.rowcount > 0

    async def unprocessed_events(self, limit: int) -> list[PendingEvent]:
        rows = await self._all(f"{EVENTS} WHERE e.processed = 0 ORDER BY e.key LIMIT ?", (limit,))
        return [event_from(row) for row in rows]

    async def apply_trigger_changes(
        self, changes: Sequence[RunStart | RunCancel], event_keys: Sequence[int], now: float
    ) -> None:
        """In one transaction: the runs the events start or cancel, in the events' order, and
        the events marked read."""
        async with self._transaction() as db:
            for change in changes:
                if isinstance(change, RunStart):
                    await _start(db, change)
                else:
                    await _cancel(db, change, now)
            await db.execute(
                "UPDATE tracked_events SET processed = 1 WHERE key IN "
                "(SELECT value FROM json_each(?))",
                (json.dumps(list(event_keys)),),
            )

    async def claim_due_runs(self, now: float, lease_until: float, limit: int) -> list[DueRun]:
        """Pending runs due by `now` that no processor holds, held until `lease_until`; of
        enabled triggers only (a disabled trigger's runs wait)."""
        async with self._transaction() as db:
            async with db.execute(
                "UPDATE trigger_runs SET leased_until = ? WHERE key IN (SELECT r.key FROM "
                "trigger_runs r JOIN triggers t ON t.id = r.trigger_id WHERE r.state = 'pending' "
                "AND r.due_at <= ? AND r.leased_until <= ? AND t.enabled "
                "ORDER BY r.due_at LIMIT ?) RETURNING key",
                (lease_until, now, now, limit),
            ) as cur:
                keys = [row[0] for row in await cur.fetchall()]
            async with db.execute(
                f"{DUE_RUNS} WHERE r.key IN (SELECT value FROM json_each(?)) ORDER BY r.due_at",
                (json.dumps(keys),),
            ) as cur:
                return [due_run_from(row) for row in await cur.fetchall()]

    async def finish_run(self, run: DueRun, now: float, *, fired: bool = True) -> None:
        """The run is over: fired (counted once), or failed (its action could not be
        taken: a template that did not render, too many tags)."""
        async with self._transaction() as db:
            cur = await db.execute(
                "UPDATE trigger_runs SET state = ?, finished_at = ? "
                "WHERE key = ? AND state = 'pending'",
                ("fired" if fired else "failed", now, run.key),
            )
            if cur.rowcount and fired:
                await db.execute(
                    "UPDATE triggers SET fired = fired + 1 WHERE id = ?", (run.trigger_id,)
                )


async def _start(db: aiosqlite.Connection, start: RunStart) -> None:
    if start.restart:
        cur = await db.execute(
            "UPDATE trigger_runs SET event = ?, started_at = ?, due_at = ?, leased_until = 0 "
            "WHERE trigger_id = ? AND user_key = ? AND group_value = ? AND state = 'pending'",
            (
                json.dumps(start.event), start.started_at, start.due_at, start.trigger_id,
                start.user_key, start.group_value,
            ),
        )  # fmt: skip
        if cur.rowcount:
            return
    await db.execute(
        "INSERT INTO trigger_runs (trigger_id, user_key, group_value, event, started_at, "
        "due_at, state) VALUES (?, ?, ?, ?, ?, ?, 'pending')",
        (
            start.trigger_id, start.user_key, start.group_value, json.dumps(start.event),
            start.started_at, start.due_at,
        ),
    )  # fmt: skip


async def _cancel(db: aiosqlite.Connection, cancel: RunCancel, now: float) -> None:
    cur = await db.execute(
        "UPDATE trigger_runs SET state = 'cancelled', finished_at = ? WHERE trigger_id = ? "
        "AND user_key = ? AND (? IS NULL OR group_value = ?) AND state = 'pending' "
        "AND started_at <= ? AND started_at >= ? AND due_at > ?",
        (
            now, cancel.trigger_id, cancel.user_key, cancel.group_value, cancel.group_value,
            cancel.at, cancel.at - cancel.within, cancel.at,
        ),
    )  # fmt: skip
    if cur.rowcount:
        await db.execute(
            "UPDATE triggers SET cancelled = cancelled + ? WHERE id = ?",
            (cur.rowcount, cancel.trigger_id),
        )
