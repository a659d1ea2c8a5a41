"""PostgreSQL verbs for feeds: as store/sqlite/feeds.py; a due feed is claimed with
FOR UPDATE SKIP LOCKED, so that one gateway of many polls it."""

from __future__ import annotations

from collections.abc import Sequence

from pushgate.store.automation_models import Feed, PollOutcome
from pushgate.store.feed_rows import COLUMNS, NEW_COLUMNS, definition, feed_from, new_values
from pushgate.store.postgres.connection import PostgresConnections


class FeedVerbs(PostgresConnections):
    async def create_feed(self, feed: Feed) -> Feed:
        async with self._transaction() as conn:
            await conn.execute(
                f"INSERT INTO feeds ({NEW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                *new_values(feed),
            )
        return feed

    async def get_feed(self, site_id: str, feed_id: str) -> Feed | None:
        row = await self._one(
            f"SELECT {COLUMNS} FROM feeds WHERE site_id = $1 AND id = $2", site_id, feed_id
        )
        return feed_from(row) if row else None

    async def list_feeds(self, site_id: str) -> list[Feed]:
        rows = await self._all(
            f"SELECT {COLUMNS} FROM feeds WHERE site_id = $1 ORDER BY created_at, id", site_id
        )
        return [feed_from(row) for row in rows]

    async def replace_feed(self, feed: Feed, *, new_url: bool) -> Feed | None:
        """URL, definition and interval; a new URL is polled afresh (its first poll only
        records), due at `feed.next_poll_at`. None when the site has no such feed."""
        async with self._transaction() as conn:
            row = await conn.fetchrow(
                "UPDATE feeds SET url = $1, definition = $2, interval_seconds = $3, "
                "next_poll_at = $4, updated_at = $5, primed = primed AND NOT $6, "
                "etag = CASE WHEN $6 THEN NULL ELSE etag END, "
                "last_modified = CASE WHEN $6 THEN NULL ELSE last_modified END "
                f"WHERE site_id = $7 AND id = $8 RETURNING {COLUMNS}",
                feed.url, definition(feed), feed.interval_seconds, feed.next_poll_at,
                feed.updated_at, new_url, feed.site_id, feed.id,
            )  # fmt: skip
        return feed_from(row) if row else None

    async def delete_feed(self, site_id: str, feed_id: str) -> bool:
        async with self._transaction() as conn:
            status = await conn.execute(
                "DELETE FROM feeds WHERE site_id = $1 AND id = $2", site_id, feed_id
            )
        return bool(status != "DELETE 0")

    async def claim_due_feeds(self, now: float, lease_until: float, limit: int) -> list[Feed]:
        """Feeds due for a poll that no poller holds, held until `lease_until`."""
        async with self._transaction() as conn:
            rows = await conn.fetch(
                "UPDATE feeds SET leased_until = $1 WHERE id IN (SELECT id FROM feeds "
                "WHERE next_poll_at <= $2 AND leased_until <= $2 ORDER BY next_poll_at "
                f"LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING {COLUMNS}",
                lease_until,
                now,
                limit,
            )
        return [feed_from(row) for row in rows]

    async def seen_entries(self, feed_id: str, identities: Sequence[str]) -> set[str]:
        rows = await self._all(
            "SELECT identity FROM feed_entries WHERE feed_id = $1 AND identity = ANY($2::text[])",
            feed_id,
            list(identities),
        )
        return {row["identity"] for row in rows}

    async def record_feed_entries(
        self, feed_id: str, entries: Sequence[tuple[str, str | None]], now: float
    ) -> None:
        """(identity, notification id or None) of entries now seen."""
        async with self._transaction() as conn:
            await conn.executemany(
                "INSERT INTO feed_entries VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                [(feed_id, identity, sent, now) for identity, sent in entries],
            )

    async def finish_poll(self, feed: Feed, outcome: PollOutcome, now: float) -> None:
        """Write what the poll found and release the feed to the next poll (only release it
        when its URL was changed meanwhile: what was found is about the old one)."""
        async with self._transaction() as conn:
            await conn.execute("UPDATE feeds SET leased_until = 0 WHERE id = $1", feed.id)
            await conn.execute(
                "UPDATE feeds SET last_polled_at = $1, last_status = $2, last_error = $3, "
                "etag = $4, last_modified = $5, primed = $6, failures = $7, next_poll_at = $8, "
                "sent = sent + $9 WHERE id = $10 AND url = $11",
                now, outcome.status, outcome.error, outcome.etag, outcome.last_modified,
                outcome.primed, outcome.failures, outcome.next_poll_at, outcome.sent, feed.id,
                feed.url,
            )  # fmt: skip
