"""`pushgate copy-db` carries a message A/B test: the notification's test and winner and each
delivery's variant arrive in PostgreSQL, so its per-variant counts and the held rest are the
same there."""

from __future__ import annotations

from pathlib import Path

from pushgate.content.ab_test import HELD_DUE_AT
from pushgate.copy_db import copy_sqlite_to_postgres
from pushgate.store import open_store
from pushgate.store.models import Audience, NewNotification, NewSubscription

NOW = 1_800_000_000.0
TEST = {"sample_percent": 50, "winner_after_seconds": 60, "metric": "clicked", "variants": 2}


def _sample_of_two(before: int, count: int) -> list[int | None]:
    return [i if i < 2 else None for i in range(before, before + count)]  # first two: 0, 1


async def test_a_copy_keeps_the_test_its_winner_and_each_delivery_s_variant(
    tmp_path: Path, postgres_url: str
) -> None:
    source = tmp_path / "pushgate.db"
    async with open_store(f"sqlite:///{source}") as store:
        site, _ = await store.create_site("news", ["https://news.example"])
        subs = [NewSubscription(f"https://127.0.0.1:9/push/{i}", "p", "a") for i in range(5)]
        await store.add_subscriptions_bulk(site.id, subs)
        new = NewNotification({"title": "t"}, Audience(everyone=True), 3600, ab_test=TEST)
        n, _ = await store.create_notification(site.id, new, now=NOW)
        await store.expand_audience_split(n, 10, _sample_of_two, (NOW, NOW + 3600), HELD_DUE_AT)
        claimed = await store.claim_due(n.key, NOW, 10, NOW + 60)
        await store.record_accepted(n.key, [t.subscription_key for t in claimed], 201, now=NOW)
        await store.record_winner(n.key, 1, NOW + 60)
        before = await store.variant_counts(n.key, 2)
    await copy_sqlite_to_postgres(source, postgres_url)
    async with open_store(postgres_url) as copied:
        shown = await copied.get_notification(site.id, n.id)
        assert shown is not None and shown.ab_test == TEST and shown.winner == 1
        assert await copied.variant_counts(n.key, 2) == before
        rest = await copied.claim_due(n.key, NOW + 60, 10, NOW + 120)
        assert len(rest) == 3 and {t.variant for t in rest} == {1}
