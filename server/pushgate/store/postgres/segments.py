"""PostgreSQL verbs for saved segments, audience counts, and the audience a notification's
delivery expands: resolved once, at its first expansion, and kept with the notification
(mirrors store/sqlite/segments.py)."""

from __future__ import annotations

import json
from collections.abc import Iterable

import asyncpg

from pushgate.audience.parse import parse_filter
from pushgate.audience.resolve import SegmentLoader, resolve
from pushgate.audience.tree import Node, segment_names, to_json, walk
from pushgate.store.base import SegmentExists, SegmentInUse
from pushgate.store.models import Audience, Notification, Segment
from pushgate.store.postgres.audience_sql import Args, audience_condition
from pushgate.store.postgres.connection import PostgresConnections, unavailable_on_error

# Statuses of a notification that has yet to read its audience, or is reading it.
_LIVE_STATUSES = ["scheduled", "queued", "sending"]
_SEGMENT_COLUMNS = "name, filter, description, created_at, updated_at"


class SegmentVerbs(PostgresConnections):
    async def create_segment(self, site_id: str, segment: Segment) -> Segment:
        """Store a new segment; SegmentExists when the site has one of that name."""
        async with self._transaction() as conn:
            status = await conn.execute(
                "INSERT INTO segments VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                site_id,
                *_row(segment),
            )
            if status == "INSERT 0 0":
                raise SegmentExists(segment.name)
        return segment

    async def get_segment(self, site_id: str, name: str) -> Segment | None:
        row = await self._one(
            f"SELECT {_SEGMENT_COLUMNS} FROM segments WHERE site_id = $1 AND name = $2",
            site_id,
            name,
        )
        return _segment(row) if row else None

    async def list_segments(
        self, site_id: str, *, limit: int, after: str
    ) -> tuple[list[Segment], str | None]:
        """A page of the site's segments in name order, after the name `after`."""
        rows = await self._all(
            # Byte order, as SQLite's: a locale's collation would sort "-" and "_" otherwise.
            f"SELECT {_SEGMENT_COLUMNS} FROM segments "
            'WHERE site_id = $1 AND name COLLATE "C" > $2 ORDER BY name COLLATE "C" LIMIT $3',
            site_id,
            after,
            limit + 1,
        )
        more = len(rows) > limit
        found = [_segment(r) for r in rows[:limit]]
        return found, (found[-1].name if more else None)

    async def replace_segment(self, site_id: str, segment: Segment) -> Segment | None:
        """Replace a segment's filter and description (its created_at stays); None if absent."""
        async with self._transaction() as conn:
            row = await conn.fetchrow(
                "UPDATE segments SET filter = $1, description = $2, updated_at = $3 "
                f"WHERE site_id = $4 AND name = $5 RETURNING {_SEGMENT_COLUMNS}",
                json.dumps(to_json(segment.filter)),
                segment.description,
                segment.updated_at,
                site_id,
                segment.name,
            )
        return _segment(row) if row else None

    async def delete_segment(self, site_id: str, name: str) -> bool:
        """Remove a segment; SegmentInUse while another segment or a scheduled, queued or
        sending notification names it (directly or through other segments)."""
        async with self._transaction() as conn:
            users = await _users_of(conn, site_id, name)
            if users:
                raise SegmentInUse(f"segment {name!r} is used by {users}")
            status = await conn.execute(
                "DELETE FROM segments WHERE site_id = $1 AND name = $2", site_id, name
            )
            return bool(status != "DELETE 0")

    async def count_audience(self, site_id: str, audience: Audience, now: float) -> int:
        """How many of the site's subscriptions are in `audience` now (segments as saved)."""
        with unavailable_on_error():
            async with self._pool.acquire() as conn:
                tree = audience.as_tree
                if tree is not None:
                    tree = await resolve(tree, _loader(conn, site_id), now=now, lenient=True)
                args = Args(site_id)
                where = audience_condition(audience, site_id, now, args, streaming=False, tree=tree)
                found = await conn.fetchval(
                    f"SELECT COUNT(*) FROM subscriptions WHERE site_id = $1 AND {where}",
                    *args.values,
                )
        return int(found or 0)

    async def count_subscriptions(self, site_id: str, *, up_to: int) -> int:
        """The site's subscriptions, counted no further than `up_to`: at most that many index
        entries read, however large the site."""
        with unavailable_on_error():
            async with self._pool.acquire() as conn:
                found = await conn.fetchval(
                    "SELECT COUNT(*) FROM "
                    "(SELECT 1 FROM subscriptions WHERE site_id = $1 LIMIT $2) AS site",
                    site_id,
                    up_to,
                )
        return int(found or 0)


async def expansion_condition(
    conn: asyncpg.Connection, notification: Notification, args: Args
) -> str:
    """The condition a notification's delivery expands, its values appended to `args`, inside
    the expanding write: a tree that names segments or `within` is resolved at the first
    expansion and kept, so every later batch and every gateway read the same audience."""
    audience = notification.audience
    now = notification.starts_at  # `within` counts back from when it was to start
    tree = audience.as_tree
    if tree is not None and _needs_resolving(tree):
        tree = await _resolved_once(conn, notification, tree, now)
    return audience_condition(audience, notification.site_id, now, args, streaming=True, tree=tree)


async def next_audience_rows(
    conn: asyncpg.Connection, notification: Notification, columns: str, limit: int
) -> list[asyncpg.Record] | None:
    """`columns` of the next `limit` subscribers of the notification's audience after its
    expansion cursor, in key order, inside the expanding write; None once it is expanded (or
    the notification is gone). The caller's transaction holds the notification row locked, so
    one gateway at a time reads and moves its cursor."""
    state = await conn.fetchrow(
        "SELECT cursor, expanded FROM notifications WHERE key = $1 FOR NO KEY UPDATE",
        notification.key,
    )
    if state is None or state["expanded"]:
        return None
    args = Args(notification.site_id, state["cursor"])
    where = await expansion_condition(conn, notification, args)
    return list(
        await conn.fetch(
            f"SELECT {columns} FROM subscriptions "
            f"WHERE site_id = $1 AND key > $2 AND {where} ORDER BY key LIMIT {args(limit)}",
            *args.values,
        )
    )


def _needs_resolving(tree: Node) -> bool:
    return bool(segment_names(tree)) or any(getattr(n, "op", None) == "within" for n in walk(tree))


async def _resolved_once(
    conn: asyncpg.Connection, notification: Notification, tree: Node, now: float
) -> Node:
    kept = await conn.fetchval(
        "SELECT resolved_audience FROM notifications WHERE key = $1", notification.key
    )
    if kept is not None:
        return _tree(kept)
    resolved = await resolve(tree, _loader(conn, notification.site_id), now=now, lenient=True)
    # The first resolution written wins, even against a caller that did not lock the row.
    kept = await conn.fetchval(
        "UPDATE notifications SET resolved_audience = COALESCE(resolved_audience, $1) "
        "WHERE key = $2 RETURNING resolved_audience",
        json.dumps(to_json(resolved)),
        notification.key,
    )
    return _tree(kept) if kept is not None else resolved


def _loader(conn: asyncpg.Connection, site_id: str) -> SegmentLoader:
    async def load(name: str) -> Node | None:
        found = await conn.fetchval(
            "SELECT filter FROM segments WHERE site_id = $1 AND name = $2", site_id, name
        )
        return _tree(found) if found is not None else None

    return load


async def _users_of(conn: asyncpg.Connection, site_id: str, name: str) -> str:
    """What keeps segment `name` from being deleted, in words; "" when nothing does."""
    rows = await conn.fetch("SELECT name, filter FROM segments WHERE site_id = $1", site_id)
    graph = {r[0]: segment_names(_tree(r[1])) for r in rows}
    users = [s for s in sorted(graph) if s != name and name in _reach(graph, graph[s])]
    if users:
        return f"segment {users[0]!r}"
    live = await conn.fetch(
        "SELECT id, audience FROM notifications WHERE site_id = $1 "
        "AND status = ANY($2::text[]) AND audience LIKE '%\"segment\"%' ORDER BY key",
        site_id,
        _LIVE_STATUSES,
    )
    for notification_id, audience in live:
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


def _segment(row: asyncpg.Record) -> Segment:
    return Segment(row[0], _tree(row[1]), row[2], row[3], row[4])
