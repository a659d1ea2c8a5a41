"""The subscription_tags table on PostgreSQL: every tag of every subscription as a typed row,
rewritten from the subscription's JSON tags, in SQL, by each write that sets them (mirrors
store/sqlite/tag_index.py). Strings go to `str_value`; numbers, and booleans as 1 or 0, to
`num_value`, so that filters compare each kind in its own index. The JSON stays the record;
the rows are its index. A deleted subscription's rows go with it (ON DELETE CASCADE)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

# The tag rows of the subscriptions `s` (key, site_id, tags) of the FROM clause that follows.
TAG_ROWS = (
    "SELECT s.key, j.key, s.site_id, "
    "CASE jsonb_typeof(j.value) WHEN 'string' THEN 'string' WHEN 'number' THEN 'number' "
    "ELSE 'boolean' END, "
    "CASE jsonb_typeof(j.value) WHEN 'string' THEN j.value #>> '{}' END, "
    "CASE jsonb_typeof(j.value) WHEN 'number' THEN (j.value)::double precision "
    "WHEN 'boolean' THEN CASE WHEN (j.value)::boolean THEN 1 ELSE 0 END END "
)
INSERT_TAGS = (
    "INSERT INTO subscription_tags (subscription_key, name, site_id, kind, str_value, num_value) "
)
_FROM_SUBSCRIPTIONS = "FROM subscriptions s, jsonb_each(s.tags::jsonb) j WHERE s.key = ANY($1)"


async def reindex_tags(db: asyncpg.Connection, keys: Sequence[int]) -> None:
    """Rewrite the tag rows of the subscriptions with these keys."""
    await db.execute("DELETE FROM subscription_tags WHERE subscription_key = ANY($1)", keys)
    await db.execute(INSERT_TAGS + TAG_ROWS + _FROM_SUBSCRIPTIONS, keys)
