"""Prompt variants and prompt-event counters in the store, on both backends: variants replaced
as a whole and read back in order; each event one upsert into its day's counter."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pushgate.store import Store, open_store
from pushgate.store.prompt_rows import PromptEventCount, PromptVariant


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    async with open_store(database_url) as store:
        yield store


async def test_variants_are_replaced_as_a_whole_and_kept_in_order(store: Store) -> None:
    site, _ = await store.create_site("news", ["https://news.example"])
    other, _ = await store.create_site("other", ["https://other.example"])
    assert await store.prompt_variants(site.id) == []
    first = [
        PromptVariant("b", "Breaking news?", "Yes", "No", 30),
        PromptVariant("a", "Hi?", "Ok", "Later", 70),
    ]
    await store.set_prompt_variants(site.id, first)
    await store.set_prompt_variants(other.id, [PromptVariant("a", "Other?", "Y", "N", 1)])
    assert await store.prompt_variants(site.id) == first
    await store.set_prompt_variants(site.id, first[1:])
    assert await store.prompt_variants(site.id) == first[1:]
    await store.set_prompt_variants(site.id, [])
    assert await store.prompt_variants(site.id) == []
    assert len(await store.prompt_variants(other.id)) == 1


async def test_events_are_counted_per_day_variant_and_event(store: Store) -> None:
    site, _ = await store.create_site("news", ["https://news.example"])
    other, _ = await store.create_site("other", ["https://other.example"])
    for _ in range(3):
        await store.count_prompt_event(site.id, "2026-12-01", "a", "shown")
    await store.count_prompt_event(site.id, "2026-12-01", "a", "granted")
    await store.count_prompt_event(site.id, "2026-12-02", "a", "shown")
    await store.count_prompt_event(site.id, "2026-12-02", "b", "shown")
    await store.count_prompt_event(other.id, "2026-12-02", "a", "shown")
    assert await store.prompt_event_counts(site.id, "2026-12-01", "2026-12-02") == [
        PromptEventCount("2026-12-01", "a", "granted", 1),
        PromptEventCount("2026-12-01", "a", "shown", 3),
        PromptEventCount("2026-12-02", "a", "shown", 1),
        PromptEventCount("2026-12-02", "b", "shown", 1),
    ]
    assert await store.prompt_event_counts(site.id, "2026-12-02", "2026-12-02") == [
        PromptEventCount("2026-12-02", "a", "shown", 1),
        PromptEventCount("2026-12-02", "b", "shown", 1),
    ]
