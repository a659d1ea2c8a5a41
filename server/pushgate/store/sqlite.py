"""SQLite backend on aiosqlite: WAL, foreign keys, one writer connection, one reader connection."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import sqlite3
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Any

import aiosqlite

from pushgate.api.text import TAG_KEY
from pushgate.store.base import IdempotencyConflict, StoreUnavailable, SubscriptionLimitReached
from pushgate.store.migrations import MIGRATIONS, SCHEMA_VERSION
from pushgate.store.models import (
    Audience,
    Counts,
    DeliveryRef,
    DeliveryResult,
    DeliveryTarget,
    NewNotification,
    NewSubscription,
    Notification,
    Site,
    Subscription,
    SubscriptionEdit,
    TagValue,
)
from pushgate.store.private_files import prepare_database_file
from pushgate.store.sealing import Sealer
from pushgate.webpush.vapid import VapidKeyPair, generate_key_pair

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # FULL: a 201/202 means the write survives a power cut, not only a crash of the process
    # (NORMAL lost the last 155 of 1,000 acknowledged subscribes to a filesystem error).
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)


class SchemaTooNew(RuntimeError):
    """The database was written by a newer pushgate."""


def hash_api_key(api_key: str) -> str:
    # API keys are 256-bit random tokens, so one SHA-256 is enough (no password stretching).
    return hashlib.sha256(api_key.encode()).hexdigest()


class SQLiteStore:
    """The embedded default store. Writes go through one connection under one lock."""

    def __init__(
        self,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        sealer: Sealer | None = None,
    ) -> None:
        self._writer = writer
        self._reader = reader
        self._sealer = sealer or Sealer()
        self._write_lock = asyncio.Lock()
        self._secret: bytes | None = None

    @classmethod
    @asynccontextmanager
    async def open(cls, path: Path, sealer: Sealer | None = None) -> AsyncIterator[SQLiteStore]:
        """Open (creating owner-only) the database; fail at once if its VAPID keys are locked."""
        prepare_database_file(path)
        writer = await aiosqlite.connect(path, isolation_level=None)
        reader = None
        try:
            for pragma in _PRAGMAS:
                await writer.execute(pragma)
            await _migrate(writer)
            reader = await aiosqlite.connect(path, isolation_level=None)
            reader.row_factory = aiosqlite.Row
            for pragma in _PRAGMAS[1:]:
                await reader.execute(pragma)
            store = cls(writer, reader, sealer)
            await store._check_site_keys()
            yield store
        finally:
            if reader is not None:
                await reader.close()
            await writer.close()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._write_lock:
            with _unavailable_on_error():
                await self._writer.execute("BEGIN IMMEDIATE")
                try:
                    yield self._writer
                except BaseException:
                    with suppress(sqlite3.Error):  # a failed write may have rolled back already
                        await self._writer.execute("ROLLBACK")
                    raise
                try:
                    await self._writer.execute("COMMIT")
                except BaseException:  # disk full at commit: the transaction is still open
                    with suppress(sqlite3.Error):
                        await self._writer.execute("ROLLBACK")
                    raise

    async def _one(self, sql: str, args: Sequence[Any] = ()) -> aiosqlite.Row | None:
        with _unavailable_on_error():
            async with self._reader.execute(sql, args) as cursor:
                return await cursor.fetchone()

    async def _all(self, sql: str, args: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        with _unavailable_on_error():
            async with self._reader.execute(sql, args) as cursor:
                return list(await cursor.fetchall())

    async def probe_write(self) -> None:
        """A real, durable write: raises StoreUnavailable when the database cannot take one."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('write_probe', ?)", (str(time.time()),)
            )

    # --- sites -------------------------------------------------------------------------

    async def ping(self) -> None:
        await self._one("SELECT 1")

    async def create_site(self, name: str, origins: Sequence[str]) -> tuple[Site, str]:
        site_id = secrets.token_hex(8)
        keys = generate_key_pair()
        api_key = "pgk_" + secrets.token_urlsafe(32)
        now = time.time()
        site = Site(site_id, name, tuple(origins), keys, now)
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO sites VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    site_id,
                    name,
                    json.dumps(list(origins)),
                    self._sealer.seal(keys.private_key),
                    keys.public_key,
                    site.prompt_text,
                    now,
                ),
            )
            await db.execute(
                "INSERT INTO api_keys VALUES (?, ?, ?)", (hash_api_key(api_key), site_id, now)
            )
        return site, api_key

    async def reseal_site_keys(self) -> int:
        """Seal every site's VAPID private key again with the newest key, in one transaction."""
        async with self._transaction() as db:
            await db.execute("PRAGMA secure_delete = ON")  # zero the old values' bytes
            async with db.execute("SELECT id, vapid_private_key FROM sites") as cur:
                rows = list(await cur.fetchall())
            await db.executemany(
                "UPDATE sites SET vapid_private_key = ? WHERE id = ?",
                [(self._sealer.reseal(stored), site_id) for site_id, stored in rows],
            )
        await self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # old pages out of the WAL
        return len(rows)

    async def _check_site_keys(self) -> None:
        rows = await self._all("SELECT vapid_private_key FROM sites")
        self._sealer.check([row[0] for row in rows])

    async def get_site(self, site_id: str) -> Site | None:
        row = await self._one(f"SELECT {_SITE_COLUMNS} FROM sites WHERE id = ?", (site_id,))
        return _site(row, self._sealer) if row else None

    async def find_site_by_name(self, name: str) -> Site | None:
        row = await self._one(f"SELECT {_SITE_COLUMNS} FROM sites WHERE name = ?", (name,))
        return _site(row, self._sealer) if row else None

    async def site_for_api_key(self, api_key: str) -> Site | None:
        row = await self._one(
            f"SELECT {_SITE_COLUMNS} FROM sites JOIN api_keys ON api_keys.site_id = sites.id "
            "WHERE api_keys.key_hash = ?",
            (hash_api_key(api_key),),
        )
        return _site(row, self._sealer) if row else None

    async def origin_is_registered(self, origin: str) -> bool:
        row = await self._one(
            "SELECT 1 FROM sites, json_each(sites.origins) WHERE json_each.value = ? LIMIT 1",
            (origin,),
        )
        return row is not None

    async def event_secret(self) -> bytes:
        if self._secret is None:
            async with self._transaction() as db:
                await db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('event_secret', ?)",
                    (secrets.token_bytes(32),),
                )
                async with db.execute("SELECT value FROM meta WHERE key = 'event_secret'") as cur:
                    row = await cur.fetchone()
            assert row is not None
            self._secret = bytes(row[0])
        return self._secret

    # --- subscriptions -----------------------------------------------------------------

    async def upsert_subscription(
        self, site_id: str, sub: NewSubscription, *, max_subscriptions: int = 0
    ) -> tuple[Subscription, bool]:
        """Store a new endpoint or refresh a known one; a new one past a nonzero
        `max_subscriptions` raises SubscriptionLimitReached (counted inside the write)."""
        now = time.time()
        async with self._transaction() as db:
            existing = await _subscription_key(db, site_id, sub.endpoint)
            if existing is None and sub.old_endpoint:
                existing = await _subscription_key(db, site_id, sub.old_endpoint)
            if existing is None:
                if max_subscriptions and await _at_least(db, site_id, max_subscriptions):
                    raise SubscriptionLimitReached(site_id)
                await db.execute(
                    "INSERT INTO subscriptions (id, site_id, endpoint, p256dh, auth, timezone, "
                    "language, tags, external_id, browser, created_at, last_seen_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        uuid.uuid4().hex,
                        site_id,
                        sub.endpoint,
                        sub.p256dh,
                        sub.auth,
                        sub.timezone,
                        sub.language,
                        json.dumps(sub.tags or {}),
                        sub.external_id,
                        sub.browser,
                        now,
                        now,
                    ),
                )
            else:
                await db.execute(
                    "UPDATE subscriptions SET endpoint = ?, p256dh = ?, auth = ?, "
                    "timezone = COALESCE(?, timezone), language = COALESCE(?, language), "
                    "tags = COALESCE(?, tags), "
                    "external_id = CASE WHEN ? THEN NULL ELSE COALESCE(?, external_id) END, "
                    "browser = COALESCE(?, browser), last_seen_at = ? WHERE key = ?",
                    (
                        sub.endpoint,
                        sub.p256dh,
                        sub.auth,
                        sub.timezone,
                        sub.language,
                        None if sub.tags is None else json.dumps(sub.tags),
                        sub.clear_external_id,
                        sub.external_id,
                        sub.browser,
                        now,
                        existing,
                    ),
                )
            async with db.execute(
                f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE site_id = ? AND endpoint = ?",
                (site_id, sub.endpoint),
            ) as cur:
                row = await cur.fetchone()
        assert row is not None
        return _subscription(row), existing is None

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
                json.dumps(s.tags or {}),
                s.external_id,
                s.browser,
                now,
                now,
            )
            for s in subs
        ]
        async with self._transaction() as db:
            before = db.total_changes
            await db.executemany(
                "INSERT OR IGNORE INTO subscriptions (id, site_id, endpoint, p256dh, auth, "
                "timezone,"
                " language, tags, external_id, browser, created_at, last_seen_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            if max_subscriptions and await _at_least(db, site_id, max_subscriptions + 1):
                raise SubscriptionLimitReached(site_id)
            return db.total_changes - before

    async def remove_subscription_by_endpoint(self, site_id: str, endpoint: str) -> bool:
        async with self._transaction() as db:
            cur = await db.execute(
                "DELETE FROM subscriptions WHERE site_id = ? AND endpoint = ?", (site_id, endpoint)
            )
            return cur.rowcount > 0

    async def remove_subscription(self, site_id: str, subscription_id: str) -> bool:
        async with self._transaction() as db:
            cur = await db.execute(
                "DELETE FROM subscriptions WHERE site_id = ? AND id = ?", (site_id, subscription_id)
            )
            return cur.rowcount > 0

    async def list_subscriptions(
        self, site_id: str, *, limit: int, after: int
    ) -> tuple[list[Subscription], int | None]:
        rows = await self._all(
            f"SELECT {_SUB_COLUMNS}, key FROM subscriptions WHERE site_id = ? AND key > ? "
            "ORDER BY key LIMIT ?",
            (site_id, after, limit + 1),
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return [_subscription(r) for r in rows], (rows[-1]["key"] if more else None)

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

    # --- notifications -----------------------------------------------------------------

    async def create_notification(
        self, site_id: str, new: NewNotification
    ) -> tuple[Notification, bool]:
        async with self._transaction() as db:
            if new.idempotency_key is not None:
                async with db.execute(
                    f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications "
                    "WHERE site_id = ? AND idempotency_key = ?",
                    (site_id, new.idempotency_key),
                ) as cur:
                    row = await cur.fetchone()
                if row is not None:
                    if row["request_hash"] != new.request_hash:
                        raise IdempotencyConflict(new.idempotency_key)
                    return _notification(row), False
            public_id = uuid.uuid4().hex
            await db.execute(
                "INSERT INTO notifications (id, site_id, payload, audience, ttl, urgency, topic, "
                "idempotency_key, request_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    public_id,
                    site_id,
                    json.dumps(new.payload),
                    json.dumps(new.audience.to_json()),
                    new.ttl,
                    new.urgency,
                    new.topic,
                    new.idempotency_key,
                    new.request_hash,
                    time.time(),
                ),
            )
            async with db.execute(
                f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications WHERE id = ?", (public_id,)
            ) as cur:
                row = await cur.fetchone()
        assert row is not None
        return _notification(row), True

    async def get_notification(self, site_id: str, notification_id: str) -> Notification | None:
        row = await self._one(
            f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications WHERE site_id = ? AND id = ?",
            (site_id, notification_id),
        )
        return _notification(row) if row else None

    async def active_notifications(self) -> list[Notification]:
        rows = await self._all(
            f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications "
            "WHERE status IN ('queued', 'sending') ORDER BY key"
        )
        return [_notification(r) for r in rows]

    # --- delivery ----------------------------------------------------------------------

    async def expand_audience(
        self, notification: Notification, limit: int, lease_until: float
    ) -> list[DeliveryTarget]:
        """Turn the next `limit` matching subscribers into pending deliveries, resumably.

        The new deliveries are leased to the caller until `lease_until`: not due before then.
        """
        where, args = _audience_filter(notification.audience)
        async with self._transaction() as db:
            async with db.execute(
                "SELECT cursor, expanded FROM notifications WHERE key = ?", (notification.key,)
            ) as cur:
                state = await cur.fetchone()
            if state is None or state["expanded"]:
                return []
            async with db.execute(
                "SELECT key, endpoint, p256dh, auth FROM subscriptions "
                f"WHERE site_id = ? AND key > ? AND {where} ORDER BY key LIMIT ?",
                (notification.site_id, state["cursor"], *args, limit),
            ) as cur:
                rows = list(await cur.fetchall())
            keys = [r[0] for r in rows]
            # One statement for the whole batch: executemany cost ~10 µs of CPU a row.
            await db.execute(
                "INSERT OR IGNORE INTO deliveries (notification_key, subscription_key, state, "
                "next_attempt_at) SELECT ?, value, 'pending', ? FROM json_each(?)",
                (notification.key, lease_until, json.dumps(keys)),
            )
            await db.execute(
                "UPDATE notifications SET cursor = ?, targeted = targeted + ?, expanded = ?, "
                "status = 'sending' WHERE key = ?",
                (
                    keys[-1] if keys else state["cursor"],
                    len(rows),
                    len(rows) < limit,
                    notification.key,
                ),
            )
        key = notification.key
        return [DeliveryTarget(key, r[0], r[1], r[2], r[3], 0) for r in rows]

    async def due_deliveries(
        self, notification_key: int, now: float, limit: int, exclude: Sequence[int] = ()
    ) -> list[DeliveryTarget]:
        rows = await self._all(
            "SELECT d.subscription_key, d.attempts, s.endpoint, s.p256dh, s.auth "
            "FROM deliveries d LEFT JOIN subscriptions s ON s.key = d.subscription_key "
            "WHERE d.notification_key = ? AND d.state = 'pending' AND d.next_attempt_at <= ? "
            "ORDER BY d.next_attempt_at LIMIT ?",
            (notification_key, now, limit + len(exclude)),
        )
        skip = set(exclude)
        vanished = [r["subscription_key"] for r in rows if r["endpoint"] is None]
        if vanished:  # unsubscribed or gone through another notification meanwhile
            await self.record_results(
                [
                    DeliveryResult(notification_key, k, "gone", 0, "subscription removed")
                    for k in vanished
                ]
            )
        return [
            DeliveryTarget(
                notification_key,
                r["subscription_key"],
                r["endpoint"],
                r["p256dh"],
                r["auth"],
                r["attempts"],
            )
            for r in rows
            if r["endpoint"] is not None and r["subscription_key"] not in skip
        ][:limit]

    async def release_leases(self) -> None:
        """At engine start: deliveries a previous process took but never settled are due now."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE deliveries SET next_attempt_at = 0 WHERE state = 'pending' AND attempts = 0"
            )

    async def next_retry_at(self, notification_key: int) -> float | None:
        row = await self._one(
            "SELECT MIN(next_attempt_at) FROM deliveries "
            "WHERE notification_key = ? AND state = 'pending'",
            (notification_key,),
        )
        return row[0] if row else None

    async def record_results(self, results: Sequence[DeliveryResult]) -> None:
        """Write a batch of outcomes, their counters, and remove gone subscribers, atomically.

        Only deliveries still pending change, and only they are counted: an outcome that
        arrives twice for one delivery (a message sent again after a restart) counts once.
        """
        if not results:
            return
        async with self._transaction() as db:
            fresh = await _still_pending(db, results)
            counters: dict[int, Counter[str]] = defaultdict(Counter)
            for r in fresh:
                if r.state != "pending":
                    counters[r.notification_key][r.state] += 1
            await db.executemany(
                "UPDATE deliveries SET state = ?, attempts = attempts + 1, last_status = ?, "
                "reason = ?, next_attempt_at = ? "
                "WHERE notification_key = ? AND subscription_key = ? AND state = 'pending'",
                [
                    (
                        r.state,
                        r.status,
                        r.reason or None,
                        r.next_attempt_at,
                        r.notification_key,
                        r.subscription_key,
                    )
                    for r in fresh
                ],
            )
            for key, counts in counters.items():
                await db.execute(
                    "UPDATE notifications SET accepted = accepted + ?, failed = failed + ?, "
                    "gone = gone + ? WHERE key = ?",
                    (counts["accepted"], counts["failed"], counts["gone"], key),
                )
            gone = [(r.subscription_key,) for r in fresh if r.state == "gone"]
            if gone:
                await db.executemany("DELETE FROM subscriptions WHERE key = ?", gone)

    async def record_accepted(
        self, notification_key: int, subscription_keys: Sequence[int], status: int
    ) -> None:
        """Mark deliveries the push service accepted, in one statement: the common outcome of
        a broadcast. As in record_results, only deliveries still pending change and count."""
        if not subscription_keys:
            return
        async with self._transaction() as db:
            cur = await db.execute(
                "UPDATE deliveries SET state = 'accepted', attempts = attempts + 1, "
                "last_status = ?, reason = NULL, next_attempt_at = 0 "
                "WHERE notification_key = ? AND state = 'pending' "
                "AND subscription_key IN (SELECT value FROM json_each(?))",
                (status, notification_key, json.dumps(list(subscription_keys))),
            )
            await db.execute(
                "UPDATE notifications SET accepted = accepted + ? WHERE key = ?",
                (cur.rowcount, notification_key),
            )

    async def expire_pending(self, notification_key: int, reason: str) -> int:
        async with self._transaction() as db:
            cur = await db.execute(
                "UPDATE deliveries SET state = 'failed', reason = ? "
                "WHERE notification_key = ? AND state = 'pending'",
                (reason, notification_key),
            )
            await db.execute(
                "UPDATE notifications SET failed = failed + ? WHERE key = ?",
                (cur.rowcount, notification_key),
            )
            return cur.rowcount

    async def finish_notification(self, notification_key: int) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE notifications SET status = 'done' WHERE key = ?", (notification_key,)
            )

    async def fail_notification(self, notification_key: int, error: str) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE notifications SET status = 'failed', error = ? WHERE key = ?",
                (error[:1000], notification_key),
            )

    async def defer_deliveries(
        self, notification_key: int, subscription_keys: Sequence[int], until: float
    ) -> None:
        """Move pending deliveries' due time to `until`, counting no attempt."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE deliveries SET next_attempt_at = ? "
                "WHERE notification_key = ? AND state = 'pending' "
                "AND subscription_key IN (SELECT value FROM json_each(?))",
                (until, notification_key, json.dumps(list(subscription_keys))),
            )

    # --- events ------------------------------------------------------------------------

    async def delivery_ref(
        self, notification_key: int, subscription_key: int
    ) -> DeliveryRef | None:
        row = await self._one(
            "SELECT n.site_id FROM deliveries d JOIN notifications n ON n.key = d.notification_key "
            "WHERE d.notification_key = ? AND d.subscription_key = ?",
            (notification_key, subscription_key),
        )
        return DeliveryRef(notification_key, subscription_key, row[0]) if row else None

    async def record_event(self, ref: DeliveryRef, kind: str, action: str | None) -> bool:
        """Count an event once per delivery and kind; returns False for a repeat."""
        async with self._transaction() as db:
            cur = await db.execute(
                "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?)",
                (ref.notification_key, ref.subscription_key, kind, action, time.time()),
            )
            if cur.rowcount == 0:
                return False
            await db.execute(
                f"UPDATE notifications SET {kind} = {kind} + 1 WHERE key = ?",  # kind is validated
                (ref.notification_key,),
            )
            return True


_SITE_COLUMNS = (
    "sites.id, name, origins, vapid_private_key, vapid_public_key, prompt_text, sites.created_at"
)
_SUB_COLUMNS = (
    "id, site_id, endpoint, p256dh, auth, timezone, language, tags, external_id, browser, "
    "created_at, last_seen_at"
)
_NOTIFICATION_COLUMNS = (
    "key, id, site_id, payload, audience, ttl, urgency, topic, idempotency_key, request_hash, "
    "status, created_at, expanded, targeted, accepted, failed, gone, delivered, clicked, "
    "dismissed, error"
)


def _site(row: aiosqlite.Row, sealer: Sealer) -> Site:
    keys = VapidKeyPair(private_key=sealer.unseal(row[3]), public_key=row[4])
    return Site(row[0], row[1], tuple(json.loads(row[2])), keys, row[6], row[5])


def _subscription(row: aiosqlite.Row) -> Subscription:
    return Subscription(
        row["id"],
        row["site_id"],
        row["endpoint"],
        row["p256dh"],
        row["auth"],
        row["timezone"],
        row["language"],
        json.loads(row["tags"]),
        row["external_id"],
        row["browser"],
        row["created_at"],
        row["last_seen_at"],
    )


def _notification(row: aiosqlite.Row) -> Notification:
    counts = Counts(
        row["targeted"],
        row["accepted"],
        row["failed"],
        row["gone"],
        row["delivered"],
        row["clicked"],
        row["dismissed"],
    )
    return Notification(
        row["id"],
        row["key"],
        row["site_id"],
        json.loads(row["payload"]),
        Audience.from_json(json.loads(row["audience"])),
        row["ttl"],
        row["urgency"],
        row["topic"],
        row["idempotency_key"],
        row["request_hash"],
        row["status"],
        row["created_at"],
        bool(row["expanded"]),
        counts,
        row["error"],
    )


@contextmanager
def _unavailable_on_error() -> Iterator[None]:
    """Disk full, I/O errors, a read-only or locked file: the database cannot serve now."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise StoreUnavailable(str(exc)) from exc


def _audience_filter(audience: Audience) -> tuple[str, list[Any]]:
    if audience.tags is not None:
        clauses, args = [], []
        for key, value in audience.tags.items():
            if not TAG_KEY.match(key):
                raise ValueError(f"invalid tag key {key!r}")
            clause, arg = _tag_equals(f"'$.\"{key}\"'", value)
            clauses.append(clause)
            args.extend(arg)
        return " AND ".join(clauses) or "1", args
    if audience.external_ids is not None:
        return "external_id IN (SELECT value FROM json_each(?))", [
            json.dumps(audience.external_ids)
        ]
    if audience.subscription_ids is not None:
        return "id IN (SELECT value FROM json_each(?))", [json.dumps(audience.subscription_ids)]
    return "1", []


def _tag_equals(path: str, value: TagValue) -> tuple[str, list[Any]]:
    """SQL true when the tag at `path` equals `value` in type and value. json_extract gives 1
    and 0 for true and false, so booleans and numbers are told apart by json_type; a stored
    number never equals a string argument (SQLite orders numbers before text, converting none).
    The value test comes first: json_type then parses only the rows that pass it (on 300,000
    rows the other order took 2.6 times as long)."""
    if isinstance(value, bool):
        return f"json_type(tags, {path}) = '{'true' if value else 'false'}'", []
    if isinstance(value, int | float):
        return (
            f"json_extract(tags, {path}) = ? AND json_type(tags, {path}) IN ('integer', 'real')",
            [value],
        )
    return f"json_extract(tags, {path}) = ?", [value]


async def _edit_subscriptions(
    db: aiosqlite.Connection, column: str, site_id: str, value: str, edit: SubscriptionEdit
) -> list[Subscription]:
    """Read the site's subscriptions whose `column` is `value`, apply `edit` to each, then write
    their tags, external id, time zone and language: all edits run before the first write."""
    async with db.execute(
        f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE site_id = ? AND {column} = ?",
        (site_id, value),
    ) as cur:
        edited = [edit(_subscription(row)) for row in await cur.fetchall()]
    await db.executemany(
        "UPDATE subscriptions SET tags = ?, external_id = ?, timezone = ?, language = ? "
        "WHERE site_id = ? AND id = ?",
        [
            (json.dumps(s.tags), s.external_id, s.timezone, s.language, site_id, s.id)
            for s in edited
        ],
    )
    return edited


async def _still_pending(
    db: aiosqlite.Connection, results: Sequence[DeliveryResult]
) -> list[DeliveryResult]:
    """The results whose delivery is still pending, one per delivery (the first wins)."""
    keys: dict[int, list[int]] = defaultdict(list)
    for r in results:
        keys[r.notification_key].append(r.subscription_key)
    pending: set[tuple[int, int]] = set()
    for notification_key, subscription_keys in keys.items():
        async with db.execute(
            "SELECT subscription_key FROM deliveries WHERE notification_key = ? "
            "AND state = 'pending' AND subscription_key IN (SELECT value FROM json_each(?))",
            (notification_key, json.dumps(subscription_keys)),
        ) as cur:
            pending.update((notification_key, row[0]) for row in await cur.fetchall())
    fresh = []
    for r in results:
        key = (r.notification_key, r.subscription_key)
        if key in pending:
            pending.discard(key)
            fresh.append(r)
    return fresh


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


async def _migrate(db: aiosqlite.Connection) -> None:
    db.row_factory = aiosqlite.Row
    async with db.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    version = row[0] if row else 0
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"the database has schema version {version}; this pushgate knows up to "
            f"{SCHEMA_VERSION}. Upgrade pushgate."
        )
    for number in range(version, SCHEMA_VERSION):
        await db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[number]):
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {number + 1}")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        await db.execute("COMMIT")


def _statements(script: str) -> list[str]:
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
