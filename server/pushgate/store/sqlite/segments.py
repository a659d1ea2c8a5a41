"""SQLite verbs for saved segments, audience counts, and the audience a notification's delivery
expands: resolved once, at its first expansion, and kept with the notification."""

from __future__ import annotations

import json
from collections.abc import Iterable

import aiosqlite

from pushgate.audience.parse import parse_filter
from pushgate.audience.resolve import SegmentLoader, resolve
from pushgate.audience.tree import Node, segment_names, to_json, walk
from pushgate.store.base import SegmentExists, SegmentInUse
from pushgate.store.models import Audience, Notification, Segment
from pushgate.store.sqlite.audience_sql import Sql, audience_condition
from pushgate.store.sqlite.connection import SQLiteConnections

# Statuses of a notification that has yet to read its audience, or is reading it.
_LIVE_STATUSES = ("scheduled", "queued", "sending")
_SEGMENT_COLUMNS = "name, filter, description, created_at, updated_at"


class SegmentVerbs(SQLiteConnections):
    async def create_segment(self, site_id: str, segment: Segment) -> Segment:
        """Store a new segment; SegmentExists when the site has one of that name."""
        async with self._transaction() as db:
            cur = await db.execute(
                "INSERT OR IGNORE INTO segments VALUES (?, ?, ?, ?, ?, ?)",
                (site_id, *_row(segment)),
            )
            if cur.rowcount == 0:
                raise SegmentExists(segment.name)
        return segment

    async def get_segment(self, site_id: str, name: str) -> Segment | None:
        row = await self._one(
            f"SELECT {_SEGMENT_COLUMNS} FROM segments WHERE site_id = ? AND name = ?",
            (site_id, name),
        )
        return _segment(row) if row else None

    async def list_segments(
        self, site_id: str, *, limit: int, after: str
    ) -> tuple[list[Segment], str | None]:
        """A page of the site's segments in name order, after the name `after`."""
        rows = await self._all(
            f"SELECT {_SEGMENT_COLUMNS} FROM segments WHERE site_id = ? AND name > ? "
            "ORDER BY name LIMIT ?",
            (site_id, after, limit + 1),
        )
        more = len(rows) > limit
        found = [_segment(r) for r in rows[:limit]]
        return found, (found[-1].name if more else None)

    async def replace_segment(self, site_id: str, segment: Segment) -> Segment | None:
        """Replace a segment's filter and description (its created_at stays); None if absent."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE segments SET filter = ?, description = ?, updated_at = ? "
                "WHERE site_id = ? AND name = ?",
                (
                    json.dumps(to_json(segment.filter)),
                    segment.description,
                    segment.updated_at,
                    site_id,
                    segment.name,
                ),
            )
            async with db.execute(
                f"SELECT {_SEGMENT_COLUMNS} FROM segments WHERE site_id = ? AND name = ?",
                (site_id, segment.name),
            ) as cur:
                row = await cur.fetchone()
        return _segment(row) if row else None

    async def delete_segment(self, site_id: str, name: str) -> bool:
        """Remove a segment; SegmentInUse while another segment or a scheduled, queued or
        sending notification names it (directly or through other segments)."""
        async with self._transaction() as db:
            users = await _users_of(db, site_id, name)
            if users:
                raise SegmentInUse(f"segment {name!r} is used by {users}")
            cur = await db.execute(
                "DELETE FROM segments WHERE site_id = ? AND name = ?", (site_id, name)
            )
            return cur.rowcount > 0

    async def count_audience(self, site_id: str, audience: Audience, now: float) -> int:
        """How many of the site's subscriptions are in `audience` now (segments as saved)."""
        tree = audience.as_tree
        if tree is not None:
            tree = await resolve(tree, _loader(self._reader, site_id), now=now, lenient=True)
        where, args = audience_condition(audience, site_id, now, streaming=False, tree=tree)
        row = await self._one(
            f"SELECT COUNT(*) FROM subscriptions WHERE site_id = ? AND {where}",
            (site_id, *args),
        )
        return int(row[0]) if row else 0

    async def count_subscriptions(self, site_id: str, *, up_to: int) -> int:
        """The site's subscriptions, counted no further than `up_to`: at most that many index
        entries read, however large the site."""
        row = await self._one(
            "SELECT COUNT(*) FROM (SELECT 1 FROM subscriptions WHERE site_id = ? LIMIT ?)",
            (site_id, up_to),
        )
        return int(row[0]) if row else 0


async def expansion_condition(db: aiosqlite.Connection, notification: Notification) -> Sql:
    """The condition a notification's delivery expands, inside the expanding write: a tree
    that names segments or `within` is resolved at the first expansion and kept, so every
    later batch and a restarted gateway read the same audience."""
    audience = notification.audience
    now = notification.starts_at  # `within` counts back from when it was to start
    tree = audience.as_tree
    if tree is not None and _needs_resolving(tree):
        tree = await _resolved_once(db, notification, tree, now)
    return audience_condition(audience, notification.site_id, now, streaming=True, tree=tree)


async def next_audience_rows(
    db: aiosqlite.Connection, notification: Notification, columns: str, limit: int
) -> list[aiosqlite.Row] | None:
    """`columns` of the next `limit` subscribers of the notification's audience after its
    expansion cursor, in key order, inside the expanding write; None once it is expanded."""
    async with db.execute(
        "SELECT cursor, expanded FROM notifications WHERE key = ?", (notification.key,)
    ) as cur:
        state = await cur.fetchone()
    if state is None or state["expanded"]:
        return None
    listed = _listed_ids(notification)
    if listed is not None:
        return await _listed_rows(db, notification, columns, limit, state["cursor"], listed)
    where, args = await expansion_condition(db, notification)
    # In key order, by the site's key index, whatever the filter: a batch then costs what it
    # reads (an index on the filter would sort the whole match every batch).
    scan = "INDEXED BY subscriptions_site " if where != "1" else ""
    async with db.execute(
        f"SELECT {columns} FROM subscriptions {scan}"
        f"WHERE site_id = ? AND key > ? AND {where} ORDER BY key LIMIT ?",
        (notification.site_id, state["cursor"], *args, limit),
    ) as cur:
        return list(await cur.fetchall())


def _listed_ids(notification: Notification) -> tuple[str, tuple[str, ...]] | None:
    """(column, ids) of an audience that lists its users or subscriptions, else None."""
    audience = notification.audience
    if audience.external_ids is not None:
        return "external_id", audience.external_ids
    if audience.subscription_ids is not None:
        return "id", audience.subscription_ids
    return None


async def _listed_rows(
    db: aiosqlite.Connection,
    notification: Notification,
    columns: str,
    limit: int,
    cursor: int,
    listed: tuple[str, tuple[str, ...]],
) -> list[aiosqlite.Row]:
    """An audience of at most 10,000 listed ids: looked up by its index, id by id (CROSS JOIN
    keeps the list outside), then sorted; never a walk of the whole site (a trigger's or a
    webhook's notification to one user took 18 ms at 100,000 subscribers that way)."""
    column, ids = listed
    async with db.execute(
        f"SELECT {columns} FROM subscriptions WHERE key IN (SELECT s.key FROM json_each(?) AS j "
        f"CROSS JOIN subscriptions AS s ON s.{column} = j.value "
        "WHERE s.site_id = ? AND s.key > ?) ORDER BY key LIMIT ?",
        (json.dumps(list(ids)), notification.site_id, cursor, limit),
    ) as cur:
        return list(await cur.fetchall())


def _needs_resolving(tree: Node) -> bool:
    return bool(segment_names(tree)) or any(getattr(n, "op", None) == "within" for n in walk(tree))


async def _resolved_once(
    db: aiosqlite.Connection, notification: Notification, tree: Node, now: float
) -> Node:
    async with db.execute(
        "SELECT resolved_audience FROM notifications WHERE key = ?", (notification.key,)
    ) as cur:
        row = await cur.fetchone()
    if row is not None and row[0] is not None:
        return _tree(row[0])

    load = _loader(db, notification.site_id)
    resolved = await resolve(tree, load, now=now, lenient=True)
    await db.execute(
        "UPDATE notifications SET resolved_audience = ? WHERE key = ?",
        (json.dumps(to_json(resolved)), notification.key),
    )
    return resolved


def _loader(db: aiosqlite.Connection, site_id: str) -> SegmentLoader:
    async def load(name: str) -> Node | None:
        async with db.execute(
            "SELECT filter FROM segments WHERE site_id = ? AND name = ?", (site_id, name)
        ) as cur:
            row = await cur.fetchone()
        return _tree(row[0]) if row else None

    return load


async def _users_of(db: aiosqlite.Connection, site_id: str, name: str) -> str:
    """What keeps segment `name` from being deleted, in words; "" when nothing does."""
    async with db.execute("SELECT name, filter FROM segments WHERE site_id = ?", (site_id,)) as cur:
        graph = {r[0]: segment_names(_tree(r[1])) for r in await cur.fetchall()}
    users = [s for s in sorted(graph) if s != name and name in _reach(graph, graph[s])]
    if users:
        return f"segment {users[0]!r}"
    marks = ",".join("?" * len(_LIVE_STATUSES))
    async with db.execute(
        f"SELECT id, audience FROM notifications WHERE site_id = ? AND status IN ({marks}) "
        "AND audience LIKE '%\"segment\"%'",
        (site_id, *_LIVE_STATUSES),
    ) as cur:
        for notification_id, audience in await cur.fetchall():
            tree = Audience.from_json(json.loads(audience)).as_tree
            if tree is not None and name in _reach(graph, segment_names(tree)):
                return f"notification {notification_id}"
    return ""


def _reach(graph: dict[str, set[str]], start: Iterable[str]) -> set[str]:
    """Every segment reachable from `start` through the segments' references."""
    seen: set[str] = set()
    todo = list(start)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph.get(name, ()))
    return seen


def _tree(text: str) -> Node:
    return parse_filter(json.loads(text), "filter", limits=False)


def _row(segment: Segment) -> tuple[object, ...]:
    return (
        segment.name,
        json.dumps(to_json(segment.filter)),
        segment.description,
        segment.created_at,
        segment.updated_at,
    )


def _segment(row: aiosqlite.Row) -> Segment:
    return Segment(row[0], _tree(row[1]), row[2], row[3], row[4])
