"""Many subscribe upserts in one SQLite write transaction (group commit, issue #14).

`write_upserts` stores a batch the way `upsert_subscription` stores one: a known endpoint (or
the `old_endpoint` it moves from) is refreshed, a new one inserted unless its site is at its
cap, with the tag index, the subscriber roll-ups and the breakdown counters kept in the same
transaction. It runs a fixed number of set-wide statements per batch (six for a batch of new
subscribers), not per subscribe: each statement waits for the writer's thread and then for a
turn of the event loop, which is busy serving the requests.

Upserts that name the same endpoint run in order, in successive waves of the same batch."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import aiosqlite

from pushgate.audience.fields import push_service_of
from pushgate.store.base import SiteGone, SubscriptionLimitReached
from pushgate.store.models import NewSubscription, Subscription
from pushgate.store.sqlite.stats import count_breakdowns, count_subscriber_change
from pushgate.store.sqlite.tag_index import index_new_tags, reindex_tags

SUB_COLUMNS = (
    "id, site_id, endpoint, p256dh, auth, timezone, language, tags, external_id, browser, "
    "created_at, last_seen_at"
)
_S_COLUMNS = ", ".join(f"s.{c} AS {c}" for c in SUB_COLUMNS.split(", "))
_PAIRS = (  # (site id, endpoint) pairs as JSON, through the UNIQUE (site_id, endpoint) index
    "json_each(?) j JOIN subscriptions s ON s.site_id = j.value ->> 0 "
    "AND s.endpoint = j.value ->> 1"
)
_KEYS_IN = "s.key IN (SELECT value FROM json_each(?))"

Answer = tuple[Subscription, bool] | SubscriptionLimitReached | SiteGone
Name = tuple[str, str]  # (site id, endpoint)


@dataclass(eq=False)
class PendingUpsert:
    """One caller's upsert, waiting for the transaction that holds it to commit."""

    site_id: str
    sub: NewSubscription
    max_subscriptions: int
    answer: asyncio.Future[tuple[Subscription, bool]] = field(repr=False)

    @property
    def names(self) -> set[Name]:
        names = {(self.site_id, self.sub.endpoint)}
        if self.sub.old_endpoint:
            names.add((self.site_id, self.sub.old_endpoint))
        return names

    def settle(self, outcome: Answer | BaseException) -> None:
        """Answer the caller (unless it is gone), once the batch's transaction has ended."""
        if self.answer.done():
            return
        if isinstance(outcome, BaseException):
            self.answer.set_exception(outcome)
        else:
            self.answer.set_result(outcome)


async def write_upserts(
    db: aiosqlite.Connection, batch: Sequence[PendingUpsert], now: float
) -> list[Answer]:
    """Store every upsert of `batch` inside the open transaction of `db`; one answer each, in
    order: the subscription and whether it is new, or SubscriptionLimitReached or SiteGone
    (not stored)."""
    answers: dict[int, Answer] = {}
    waiting = list(range(len(batch)))
    while waiting:
        wave: list[int] = []
        later: list[int] = []
        claimed: set[Name] = set()
        for index in waiting:
            names = batch[index].names
            (later if names & claimed else wave).append(index)
            claimed |= names  # a deferred upsert still holds its names: order per endpoint
        found = await _write_wave(db, [batch[i] for i in wave], now)
        answers.update(zip(wave, found, strict=True))
        waiting = later
    return [answers[i] for i in range(len(batch))]


async def _write_wave(
    db: aiosqlite.Connection, wave: list[PendingUpsert], now: float
) -> list[Answer]:
    """Upserts whose endpoints (old ones included) are all distinct."""
    keys = await _keys_of(db, [(p.site_id, p.sub.endpoint) for p in wave])
    moved = [(p.site_id, p.sub.old_endpoint) for p in wave if p.sub.old_endpoint]
    old_keys = await _keys_of(db, [n for n in moved if n[1]]) if moved else {}
    known: dict[int, int] = {}  # index in wave -> key of the row it refreshes
    for index, p in enumerate(wave):
        key = keys.get((p.site_id, p.sub.endpoint))
        if key is None and p.sub.old_endpoint:
            key = old_keys.get((p.site_id, p.sub.old_endpoint))
        if key is not None:
            known[index] = key
    new = [(i, p) for i, p in enumerate(wave) if i not in known]
    gone = await _of_sites_gone(db, new)
    new = [(i, p) for i, p in new if i not in gone]
    refused = await _over_cap(db, new)
    inserted = await _insert(db, {i: p for i, p in new if i not in refused}, now)
    await _refresh(db, [(wave[i], key) for i, key in known.items()], now)
    names = [(wave[i].site_id, wave[i].sub.endpoint) for i in known]
    refreshed = await _read(db, names) if names else {}
    answers: list[Answer] = []
    for i, p in enumerate(wave):
        if i in gone:
            answers.append(SiteGone(p.site_id))
        elif i in refused:
            answers.append(SubscriptionLimitReached(p.site_id))
        elif i in inserted:
            answers.append((inserted[i], True))
        else:
            answers.append((refreshed[(p.site_id, p.sub.endpoint)], False))
    return answers


async def _keys_of(db: aiosqlite.Connection, names: list[Name]) -> dict[Name, int]:
    rows = await db.execute_fetchall(
        f"SELECT s.site_id, s.endpoint, s.key FROM {_PAIRS}", (json.dumps(names),)
    )
    return {(row[0], row[1]): row[2] for row in rows}


async def _of_sites_gone(
    db: aiosqlite.Connection, new: list[tuple[int, PendingUpsert]]
) -> set[int]:
    """The new upserts whose site was deleted after the request read it (a site is read from
    a cache kept for a moment: pushgate.api.site_cache)."""
    if not new:
        return set()
    named = sorted({p.site_id for _, p in new})
    rows = await db.execute_fetchall(
        "SELECT id FROM sites WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(named),)
    )
    live = {row[0] for row in rows}
    return {i for i, p in new if p.site_id not in live}


async def _over_cap(db: aiosqlite.Connection, new: list[tuple[int, PendingUpsert]]) -> set[int]:
    """The new upserts refused by their site's nonzero cap, counted as if stored in order."""
    caps: dict[str, int] = {}
    for _, p in new:
        if p.max_subscriptions:
            caps[p.site_id] = max(caps.get(p.site_id, 0), p.max_subscriptions)
    held = {site: await _count_up_to(db, site, cap) for site, cap in caps.items()}
    refused = set()
    for index, p in new:
        if not p.max_subscriptions:
            held[p.site_id] = held.get(p.site_id, 0) + 1
        elif held[p.site_id] >= p.max_subscriptions:
            refused.add(index)
        else:
            held[p.site_id] += 1
    return refused


async def _count_up_to(db: aiosqlite.Connection, site_id: str, cap: int) -> int:
    # Stops counting at `cap`, so a cap of N costs at most N index entries, not the whole site.
    rows = await db.execute_fetchall(
        "SELECT COUNT(*) FROM (SELECT 1 FROM subscriptions WHERE site_id = ? LIMIT ?)",
        (site_id, cap),
    )
    return int(next(iter(rows))[0])


async def _insert(
    db: aiosqlite.Connection, new: dict[int, PendingUpsert], now: float
) -> dict[int, Subscription]:
    """Insert, then index and count, the new subscriptions: they are the keys after the
    largest before (keys only grow, and this transaction is the only writer). Each comes
    back as stored, made from what was written (no read)."""
    if not new:
        return {}
    rows = await db.execute_fetchall("SELECT IFNULL(MAX(key), 0) FROM subscriptions")
    after_key = int(next(iter(rows))[0])
    stored = {i: _new_subscription(p.site_id, p.sub, now) for i, p in new.items()}
    await db.executemany(
        "INSERT INTO subscriptions (id, site_id, endpoint, p256dh, auth, timezone, language, "
        "tags, external_id, browser, created_at, last_seen_at, country, push_service) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [_insert_row(stored[i], p.sub.country) for i, p in new.items()],
    )
    if any(p.sub.tags for p in new.values()):
        await index_new_tags(db, after_key)
    await count_subscriber_change(db, "new", "s.key > ?", (after_key,), now)
    await count_breakdowns(db, 1, "s.key > ?", (after_key,))
    return stored


def _new_subscription(site_id: str, sub: NewSubscription, now: float) -> Subscription:
    return Subscription(
        uuid.uuid4().hex,
        site_id,
        sub.endpoint,
        sub.p256dh,
        sub.auth,
        sub.timezone,
        sub.language,
        dict(sub.tags or {}),
        sub.external_id,
        sub.browser,
        now,
        now,
    )


def _insert_row(s: Subscription, country: str | None) -> tuple[object, ...]:
    return (
        s.id,
        s.site_id,
        s.endpoint,
        s.p256dh,
        s.auth,
        s.timezone,
        s.language,
        json.dumps(s.tags),
        s.external_id,
        s.browser,
        s.created_at,
        s.last_seen_at,
        country,
        push_service_of(s.endpoint),
    )


async def _refresh(
    db: aiosqlite.Connection, known: list[tuple[PendingUpsert, int]], now: float
) -> None:
    """Refresh known subscriptions (moving each to its new endpoint), out of their breakdown
    counters before and back in after, their tag rows rewritten when tags were sent."""
    if not known:
        return
    picked = (_KEYS_IN, (json.dumps([key for _, key in known]),))
    await count_breakdowns(db, -1, *picked)
    await db.executemany(
        "UPDATE subscriptions SET endpoint = ?, push_service = ?, p256dh = ?, auth = ?, "
        "timezone = COALESCE(?, timezone), language = COALESCE(?, language), "
        "tags = COALESCE(?, tags), "
        "external_id = CASE WHEN ? THEN NULL ELSE COALESCE(?, external_id) END, "
        "browser = COALESCE(?, browser), country = COALESCE(?, country), "
        "last_seen_at = ? WHERE key = ?",
        [_update_row(p.sub, key, now) for p, key in known],
    )
    retagged = [key for p, key in known if p.sub.tags is not None]
    if retagged:
        await reindex_tags(db, _KEYS_IN, (json.dumps(retagged),))
    await count_breakdowns(db, 1, *picked)


def _update_row(sub: NewSubscription, key: int, now: float) -> tuple[object, ...]:
    return (
        sub.endpoint,
        push_service_of(sub.endpoint),
        sub.p256dh,
        sub.auth,
        sub.timezone,
        sub.language,
        None if sub.tags is None else json.dumps(sub.tags),
        sub.clear_external_id,
        sub.external_id,
        sub.browser,
        sub.country,
        now,
        key,
    )


async def _read(db: aiosqlite.Connection, names: Iterable[Name]) -> dict[Name, Subscription]:
    rows = await db.execute_fetchall(
        f"SELECT {_S_COLUMNS} FROM {_PAIRS}", (json.dumps(list(names)),)
    )
    return {(row["site_id"], row["endpoint"]): subscription_of(row) for row in rows}


def subscription_of(row: aiosqlite.Row) -> Subscription:
    """A Subscription from a row holding SUB_COLUMNS."""
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
