"""The segment verbs on every backend: create once per name, read, list in name (byte) order
by pages, replace keeping created_at, and delete refused while a segment or a live
notification names it; on PostgreSQL, two gateways creating one name race to one winner, and
a database with a language's collation still lists in byte order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pushgate.audience.parse import parse_filter
from pushgate.store import open_store
from pushgate.store.base import SegmentExists, SegmentInUse, Store
from pushgate.store.models import Audience, NewNotification, Segment
from pushgate.testing.postgres import LocalPostgres

PRO = parse_filter({"field": "tags.plan", "op": "eq", "value": "pro"})
FREE = parse_filter({"field": "tags.plan", "op": "eq", "value": "free"})


def segment(name: str, tree: Any = PRO, at: float = 1.0) -> Segment:
    return Segment(name, tree, f"about {name}", at, at)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[tuple[Store, str]]:
    async with open_store(database_url) as opened:
        site, _ = await opened.create_site("news", ["https://news.example"])
        yield opened, site.id


async def test_a_segment_is_created_once_and_read_back(store: tuple[Store, str]) -> None:
    db, site_id = store
    assert await db.create_segment(site_id, segment("pros")) == segment("pros")
    with pytest.raises(SegmentExists):
        await db.create_segment(site_id, segment("pros", FREE))
    assert await db.get_segment(site_id, "pros") == segment("pros")
    assert await db.get_segment(site_id, "nobody") is None
    other, _ = await db.create_site("other", ["https://other.example"])
    assert await db.get_segment(other.id, "pros") is None


async def test_segments_list_in_byte_order_by_pages(store: tuple[Store, str]) -> None:
    db, site_id = store
    names = ["b", "a_b", "a-b", "a0", "ab", "a"]
    for name in names:
        await db.create_segment(site_id, segment(name))
    seen: list[str] = []
    after = ""
    while True:
        page, after_next = await db.list_segments(site_id, limit=4, after=after)
        seen += [s.name for s in page]
        if after_next is None:
            break
        after = after_next
    assert seen == sorted(names, key=str.encode) == ["a", "a-b", "a0", "a_b", "ab", "b"]


async def test_replace_keeps_created_at_and_misses_an_absent_segment(
    store: tuple[Store, str],
) -> None:
    db, site_id = store
    await db.create_segment(site_id, segment("pros", at=1.0))
    replaced = await db.replace_segment(site_id, Segment("pros", FREE, None, 9.0, 2.0))
    assert replaced == Segment("pros", FREE, None, 1.0, 2.0)
    assert await db.get_segment(site_id, "pros") == replaced
    assert await db.replace_segment(site_id, segment("nobody")) is None


async def test_a_segment_in_use_is_not_deleted(store: tuple[Store, str]) -> None:
    db, site_id = store
    await db.create_segment(site_id, segment("pros"))
    await db.create_segment(site_id, segment("wide", parse_filter({"segment": "pros"})))
    await db.create_segment(site_id, segment("wider", parse_filter({"segment": "wide"})))
    with pytest.raises(SegmentInUse) as refused:
        await db.delete_segment(site_id, "pros")
    assert str(refused.value) == "segment 'pros' is used by segment 'wide'"
    assert await db.delete_segment(site_id, "wider") is True
    assert await db.delete_segment(site_id, "wide") is True

    notification, _ = await db.create_notification(
        site_id, NewNotification({"title": "t"}, Audience(segment="pros"), 60)
    )
    with pytest.raises(SegmentInUse) as refused:
        await db.delete_segment(site_id, "pros")
    assert str(refused.value) == f"segment 'pros' is used by notification {notification.id}"
    await db.cancel_notification(site_id, notification.id, from_statuses=("queued",))
    assert await db.delete_segment(site_id, "pros") is True
    assert await db.delete_segment(site_id, "pros") is False


async def test_two_gateways_creating_one_name_leave_one_segment(postgres_url: str) -> None:
    async with open_store(postgres_url) as one, open_store(postgres_url) as two:
        site, _ = await one.create_site("news", ["https://news.example"])
        for round in range(10):
            name = f"s{round}"
            made = await asyncio.gather(
                one.create_segment(site.id, segment(name, PRO)),
                two.create_segment(site.id, segment(name, FREE)),
                return_exceptions=True,
            )
            assert sorted(type(m).__name__ for m in made) == ["Segment", "SegmentExists"]
            winner = next(m for m in made if isinstance(m, Segment))
            assert await two.get_segment(site.id, name) == winner


async def test_segments_list_in_byte_order_where_the_database_sorts_by_language(
    postgres_cluster: LocalPostgres,
) -> None:
    """A database made with a language's collation (as most are) still lists in byte order,
    as SQLite does: "-" and "_" are not skipped over as they are in English."""
    postgres_cluster.sql(
        "CREATE DATABASE english TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' "
        "LOCALE 'C.UTF-8'"
    )
    async with open_store(postgres_cluster.url("english")) as db:
        site, _ = await db.create_site("news", ["https://news.example"])
        for name in ["ab", "a_c", "a-d", "a0"]:
            await db.create_segment(site.id, segment(name))
        page, after = await db.list_segments(site.id, limit=2, after="a-d")
        assert ([s.name for s in page], after) == (["a0", "a_c"], "a_c")
