"""SQLite verbs for feeds: kept, leased to one poller at a time, and their seen entries."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pushgate.store.automation_models import Feed, PollOutcome
from pushgate.store.feed_rows import COLUMNS, NEW_COLUMNS, definition, feed_from, new_values
from pushgate.store.sqlite.connection import SQLiteConnections


class FeedVerbs(SQLiteConnections):
    async def create_feed(self, feed: Feed) -> Feed:
        async with self._transaction() as db:
            await db.execute(
                f"INSERT INTO feeds ({NEW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                new_values(feed),
            )
        return feed

    async def get_feed(self, site_id: str, feed_id: str) -> Feed | None:
        row = await self._one(
            f"SELECT {COLUMNS} FROM feeds WHERE site_id = ? AND id = ?", (site_id, feed_id)
        )
        return feed_from(row) if row else None

    async def list_feeds(self, site_id: str) -> list[Feed]:
        rows = await self._all(
            f"SELECT {COLUMNS} FROM feeds WHERE site_id = ? ORDER BY created_at, id", (site_id,)
        )
        return [feed_from(row) for row in rows]

    async def replace_feed(self, feed: Feed, *, new_url: bool) -> Feed | None:
        """URL, definition and interval; a new URL is polled afresh (its first poll only
        records), due at `feed.next_poll_at`. None when the site has no such feed."""
        async with self._transaction() as db:
            cur = await db.execute(
                "UPDATE feeds SET url = ?, definition = ?, interval_seconds = ?, "
                "next_poll_at = ?, updated_at = ?, primed = primed AND NOT ?, "
                "etag = CASE WHEN ? THEN NULL ELSE etag END, "
                "last_modified = CASE WHEN ? THEN NULL ELSE last_modified END "
                "WHERE site_id = ? AND id = ?",
                (
                    feed.url, definition(feed), feed.interval_seconds, feed.next_poll_at,
                    feed.updated_at, new_url, new_url, new_url, feed.site_id, feed.id,
                ),
            )  # fmt: skip
        return await self.get_feed(feed.site_id, feed.id) if cur.rowcount else None

    async def delete_feed(self, site_id: str, feed_id: str) -> bool:
        async with self._transaction() as db:
            cur = await db.execute(
                "DELETE FROM feeds WHERE site_id = ? AND id = ?", (site_id, feed_id)
            )
        return cur.rowcount > 0

    async def claim_due_feeds(self, now: float, lease_until: float, limit: int) -> list[Feed]:
        """Feeds due for a poll that no poller holds, held until `lease_until`."""
        async with (
            self._transaction() as db,
            db.execute(
                f"UPDATE feeds SET leased_until = ? WHERE id IN (SELECT id FROM feeds "
                "WHERE next_poll_at <= ? AND leased_until <= ? ORDER BY next_poll_at LIMIT ?) "
                f"RETURNING {COLUMNS}",
                (lease_until, now, now, limit),
            ) as cur,
        ):
            return [feed_from(row) for row in await cur.fetchall()]

    async def seen_entries(self, feed_id: str, identities: Sequence[str]) -> set[str]:
        rows = await self._all(
            "SELECT identity FROM feed_entries WHERE feed_id = ? AND identity IN "
            "(SELECT value FROM json_each(?))",
            (feed_id, json.dumps(list(identities))),
        )
        return {row["identity"] for row in rows}

    async def record_feed_entries(
        self, feed_id: str, entries: Sequence[tuple[str, str | None]], now: float
    ) -> None:
        """(identity, notification id or None) of entries now seen."""
        async with self._transaction() as db:
            await db.executemany(
                "INSERT OR IGNORE INTO feed_entries VALUES (?, ?, ?, ?)",
                [(feed_id, identity, sent, now) for identity, sent in entries],
            )

    async def finish_poll(self, feed: Feed, outcome: PollOutcome, now: float) -> None:
        """Write what the poll found and release the feed to the next poll (only release it
        when its URL was changed meanwhile: what was found is about the old one)."""
        async with self._transaction() as db:
            await db.execute("UPDATE feeds SET leased_until = 0 WHERE id = ?", (feed.id,))
            await db.execute(
                "UPDATE feeds SET last_polled_at = ?, last_status = ?, "
                "last_error = ?, etag = ?, last_modified = ?, primed = ?, failures = ?, "
                "next_poll_at = ?, sent = sent + ? WHERE id = ? AND url = ?",
                (
                    now, outcome.status, outcome.error, outcome.etag, outcome.last_modified,
                    outcome.primed, outcome.failures, outcome.next_poll_at, outcome.sent, feed.id,
                    feed.url,
                ),
            )  # fmt: skip
