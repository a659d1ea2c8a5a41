"""PostgreSQL verbs for soft-prompt variants and their daily event counters (mirrors
store/sqlite/prompts.py)."""

from __future__ import annotations

from collections.abc import Sequence

from pushgate.store.postgres.connection import PostgresConnections
from pushgate.store.prompt_rows import PromptEventCount, PromptVariant


class PromptVerbs(PostgresConnections):
    async def prompt_variants(self, site_id: str) -> list[PromptVariant]:
        """The site's variants in the order they were given."""
        rows = await self._all(
            "SELECT id, text, accept_label, dismiss_label, weight FROM prompt_variants "
            "WHERE site_id = $1 ORDER BY position",
            site_id,
        )
        return [PromptVariant(*row) for row in rows]

    async def set_prompt_variants(self, site_id: str, variants: Sequence[PromptVariant]) -> None:
        """Replace the site's variants (none: the site's single prompt again)."""
        async with self._transaction() as db:
            await db.execute("DELETE FROM prompt_variants WHERE site_id = $1", site_id)
            await db.executemany(
                "INSERT INTO prompt_variants (site_id, id, position, text, accept_label, "
                "dismiss_label, weight) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                [
                    (site_id, v.id, i, v.text, v.accept_label, v.dismiss_label, v.weight)
                    for i, v in enumerate(variants)
                ],
            )

    async def count_prompt_event(self, site_id: str, day: str, variant_id: str, event: str) -> None:
        """One more `event` for the variant on `day`: one upsert, never a row per event."""
        async with self._transaction(durable=False) as db:
            await db.execute(
                "INSERT INTO prompt_event_counts (site_id, day, variant_id, event, count) "
                "VALUES ($1, $2, $3, $4, 1) ON CONFLICT (site_id, day, variant_id, event) "
                "DO UPDATE SET count = prompt_event_counts.count + 1",
                site_id,
                day,
                variant_id,
                event,
            )

    async def prompt_event_counts(
        self, site_id: str, from_day: str, to_day: str
    ) -> list[PromptEventCount]:
        """The counters of days `from_day` to `to_day` (inclusive), oldest first."""
        rows = await self._all(
            "SELECT day, variant_id, event, count FROM prompt_event_counts "
            "WHERE site_id = $1 AND day BETWEEN $2 AND $3 ORDER BY day, variant_id, event",
            site_id,
            from_day,
            to_day,
        )
        return [PromptEventCount(row[0], row[1], row[2], int(row[3])) for row in rows]
