"""SQLite verbs for subscriptions: upsert, bulk import, edits, listing, removal."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

import aiosqlite

from pushgate.audience.fields import push_service_of
from pushgate.store.base import StoreUnavailable, SubscriptionLimitReached
from pushgate.store.models import (
    NewSubscription,
    Subscription,
    SubscriptionEdit,
)
from pushgate.store.sqlite.connection import SQLiteConnections
from pushgate.store.sqlite.stats import count_breakdowns, count_subscriber_change
from pushgate.store.sqlite.subscribe_batch import (
    SUB_COLUMNS,
    PendingUpsert,
    subscription_of,
    write_upserts,
)
from pushgate.store.sqlite.tag_index import index_new_tags, last_key, reindex_tags

MAX_GROUP = 256  # subscribe upserts per group commit


class SubscriptionVerbs(SQLiteConnections):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._upserts: list[PendingUpsert] = []  # waiting for the next group commit
        self._committer: asyncio.Task[None] | None = None

    async def upsert_subscription(
        self, site_id: str, sub: NewSubscription, *, max_subscriptions: int = 0
    ) -> tuple[Subscription, bool]:
        """Store a new endpoint or refresh a known one; a new one past a nonzero
        `max_subscriptions` raises SubscriptionLimitReached (counted inside the write).

        Group commit: the upserts that arrive while a transaction commits wait, and the next
        transaction takes them all (up to MAX_GROUP), so that 50 subscribes in flight cost
        one fsync, not 50. Each is answered only once the transaction holding it committed."""
        answer = asyncio.get_running_loop().create_future()
        self._upserts.append(PendingUpsert(site_id, sub, max_subscriptions, answer))
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_upserts())
        return await answer

    async def _commit_upserts(self) -> None:
        try:
            while self._upserts:
                batch = [p for p in self._upserts[:MAX_GROUP] if not p.answer.done()]
                del self._upserts[:MAX_GROUP]
                await self._commit_group(batch)
        finally:
            self._committer = None

    async def _commit_group(self, batch: list[PendingUpsert]) -> None:
        """One durable transaction for `batch`, then its answers. A store that cannot write
        answers every caller StoreUnavailable; any other failure (one bad row) retries each
        upsert alone, so that each gets its own answer."""
        try:
            async with self._transaction() as db:
                answers = await write_upserts(db, batch, time.time())
        except StoreUnavailable as exc:
            for pending in batch:
                pending.settle(exc)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].settle(exc)
            else:
                for pending in batch:
                    await self._commit_group([pending])
        except BaseException as exc:  # cancelled: nobody waits for ever
            for pending in batch:
                pending.settle(StoreUnavailable(f"subscribe not written: {exc!r}"))
            raise
        else:
            for pending, answer in zip(batch, answers, strict=True):
                pending.settle(answer)

    async def add_subscriptions_bulk(
        self, site_id: str, subs: Sequence[NewSubscription], *, max_subscriptions: int = 0
    ) -> int:
        """Insert many new subscriptions at once (imports, benchmarks); known endpoints are kept.

        All or nothing: past a nonzero `max_subscriptions`, SubscriptionLimitReached, none stored.
        """
        now = time.time()
        rows = [
            (
                uuid.uuid4().hex,
                site_id,
                s.endpoint,
                s.p256dh,
                s.auth,
                s.timezone,
                s.language,
                json.dumps(s.tags) if s.tags else "{}",
                s.external_id,
                s.browser,
                now,
                now,
                s.country,
                push_service_of(s.endpoint),
            )
            for s in subs
        ]
        async with self._transaction() as db:
            before, after_key = db.total_changes, await last_key(db)
            await db.executemany(
                "INSERT OR IGNORE INTO subscriptions (id, site_id, endpoint, p256dh, auth, "
                "timezone, language, tags, external_id, browser, created_at, last_seen_at, "
                "country, push_service) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            added = db.total_changes - before
            if added:
                new_rows = "s.site_id = ? AND s.key > ?"
                await count_subscriber_change(db, "new", new_rows, (site_id, after_key), now)
                await count_breakdowns(db, 1, new_rows, (site_id, after_key))
            if max_subscriptions and await _at_least(db, site_id, max_subscriptions + 1):
                raise SubscriptionLimitReached(site_id)
            if any(s.tags for s in subs):  # an import without tags costs the index nothing
                await index_new_tags(db, after_key)
            return added

    async def remove_subscription_by_endpoint(self, site_id: str, endpoint: str) -> bool:
        return await self._unsubscribe(site_id, "endpoint", endpoint)

    async def remove_subscription(self, site_id: str, subscription_id: str) -> bool:
        return await self._unsubscribe(site_id, "id", subscription_id)

    async def _unsubscribe(self, site_id: str, column: str, value: str) -> bool:
        """Delete the site's subscription whose `column` is `value`, counted as unsubscribed."""
        where = f"s.site_id = ? AND s.{column} = ?"
        async with self._transaction() as db:
            await count_subscriber_change(db, "unsubscribed", where, (site_id, value), time.time())
            await count_breakdowns(db, -1, where, (site_id, value))
            cur = await db.execute(
                f"DELETE FROM subscriptions WHERE site_id = ? AND {column} = ?", (site_id, value)
            )
            return cur.rowcount > 0

    async def list_subscriptions(
        self, site_id: str, *, limit: int, after: int
    ) -> tuple[list[Subscription], int | None]:
        rows = await self._all(
            f"SELECT {SUB_COLUMNS}, key FROM subscriptions WHERE site_id = ? AND key > ? "
            "ORDER BY key LIMIT ?",
            (site_id, after, limit + 1),
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return [subscription_of(r) for r in rows], (rows[-1]["key"] if more else None)

    async def update_subscription(
        self, site_id: str, subscription_id: str, edit: SubscriptionEdit
    ) -> Subscription | None:
        """Apply `edit` to one subscription inside one write; None if the site has no such id."""
        async with self._transaction() as db:
            edited = await _edit_subscriptions(db, "id", site_id, subscription_id, edit)
        return edited[0] if edited else None

    async def update_user_subscriptions(
        self, site_id: str, external_id: str, edit: SubscriptionEdit
    ) -> int:
        """Apply `edit` to every subscription of one external id inside one write; how many."""
        async with self._transaction() as db:
            return len(await _edit_subscriptions(db, "external_id", site_id, external_id, edit))


async def _edit_subscriptions(
    db: aiosqlite.Connection, column: str, site_id: str, value: str, edit: SubscriptionEdit
) -> list[Subscription]:
    """Read the site's subscriptions whose `column` is `value`, apply `edit` to each, then write
    their tags, external id, time zone and language: all edits run before the first write."""
    async with db.execute(
        f"SELECT {SUB_COLUMNS} FROM subscriptions WHERE site_id = ? AND {column} = ?",
        (site_id, value),
    ) as cur:
        edited = [edit(subscription_of(row)) for row in await cur.fetchall()]
    picked = (
        "s.site_id = ? AND s.id IN (SELECT value FROM json_each(?))",
        (site_id, json.dumps([s.id for s in edited])),
    )
    await count_breakdowns(db, -1, *picked)  # the time zone or language may change
    await db.executemany(
        "UPDATE subscriptions SET tags = ?, external_id = ?, timezone = ?, language = ? "
        "WHERE site_id = ? AND id = ?",
        [
            (json.dumps(s.tags), s.external_id, s.timezone, s.language, site_id, s.id)
            for s in edited
        ],
    )
    await reindex_tags(db, *picked)
    await count_breakdowns(db, 1, *picked)
    return edited


async def _subscription_key(db: aiosqlite.Connection, site_id: str, endpoint: str) -> int | None:
    async with db.execute(
        "SELECT key FROM subscriptions WHERE site_id = ? AND endpoint = ?", (site_id, endpoint)
    ) as cur:
        row = await cur.fetchone()
    return row[0] if row else None


async def _at_least(db: aiosqlite.Connection, site_id: str, count: int) -> bool:
    # Stops counting at `count`, so a cap of N costs at most N index entries, not the whole site.
    async with db.execute(
        "SELECT COUNT(*) FROM (SELECT 1 FROM subscriptions WHERE site_id = ? LIMIT ?)",
        (site_id, count),
    ) as cur:
        row = await cur.fetchone()
    return row is not None and row[0] >= count
