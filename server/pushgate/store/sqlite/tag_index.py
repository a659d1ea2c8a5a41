"""The subscription_tags table: every tag of every subscription as a row (name, kind, value),
indexed by (site_id, name, kind, value) for filters, and rewritten from the subscription's JSON
tags, in SQL, by each write that sets them. The JSON stays the record; the rows are its index.
A deleted subscription's rows go with it (ON DELETE CASCADE)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite

_FROM_JSON = (
    "INSERT INTO subscription_tags (subscription_key, name, site_id, kind, value) "
    "SELECT s.key, j.key, s.site_id, "
    "CASE j.type WHEN 'text' THEN 'string' WHEN 'integer' THEN 'number' "
    "WHEN 'real' THEN 'number' ELSE 'boolean' END, "
    "CASE j.type WHEN 'true' THEN 1 WHEN 'false' THEN 0 ELSE j.value END "
    "FROM subscriptions s, json_each(s.tags) j WHERE "
)


async def index_new_tags(db: aiosqlite.Connection, after_key: int) -> None:
    """Index the tags of the subscriptions inserted after key `after_key` (keys only grow)."""
    await db.execute(_FROM_JSON + "s.key > ? AND s.tags != '{}'", (after_key,))


async def reindex_tags(db: aiosqlite.Connection, where: str, args: Sequence[Any]) -> None:
    """Rewrite the tag rows of the subscriptions `s` that `where` selects."""
    await db.execute(
        "DELETE FROM subscription_tags WHERE subscription_key IN "
        f"(SELECT s.key FROM subscriptions s WHERE {where})",
        args,
    )
    await db.execute(_FROM_JSON + where, args)


async def last_key(db: aiosqlite.Connection) -> int:
    async with db.execute("SELECT IFNULL(MAX(key), 0) FROM subscriptions") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0
