"""A notification resolves its segments (and `within`) at its first expansion and keeps the
result: a segment edited mid-send, or a gateway restarted mid-send, changes nobody's fate."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from pushgate.audience.parse import parse_filter
from pushgate.store.models import Audience, NewNotification, NewSubscription, Segment
from pushgate.store.sqlite import SQLiteStore
from tests.api.test_subscriptions import FCM, VALID_AUTH, VALID_P256DH

PRO = parse_filter({"field": "tags.plan", "op": "eq", "value": "pro"})
FREE = parse_filter({"field": "tags.plan", "op": "eq", "value": "free"})


def subscribers(n: int) -> list[NewSubscription]:
    plans = ("pro", "free")
    return [
        NewSubscription(f"{FCM}{i}", VALID_P256DH, VALID_AUTH, tags={"plan": plans[i % 2]})
        for i in range(n)
    ]


async def test_a_segment_edited_or_a_restart_mid_send_changes_nobodys_fate(
    tmp_path: Path,
) -> None:
    path = tmp_path / "pushgate.db"
    async with SQLiteStore.open(path) as store:
        site, _ = await store.create_site("news", ["https://news.example"])
        await store.add_subscriptions_bulk(site.id, subscribers(20))
        await store.create_segment(site.id, Segment("members", PRO, None, 0.0, 0.0))
        notification, _ = await store.create_notification(
            site.id, NewNotification({"title": "t"}, Audience(segment="members"), 60)
        )
        first = await store.expand_audience(notification, 3, 0.0)
        await store.replace_segment(site.id, Segment("members", FREE, None, 0.0, 1.0))
    async with SQLiteStore.open(path) as store:  # a restart
        rest = await store.expand_audience(notification, 100, 0.0)
        now_members = await store.count_audience(site.id, Audience(segment="members"), 0.0)
    keys = [t.subscription_key for t in first + rest]
    assert keys == list(range(1, 21, 2))  # the pros: keys 1, 3, ... 19, each once
    assert now_members == 10  # the segment itself now holds the free ones
    with sqlite3.connect(path) as db:
        (kept,) = db.execute("SELECT resolved_audience FROM notifications").fetchone()
    assert json.loads(kept) == {"field": "tags.plan", "op": "eq", "value": "pro"}


async def test_within_is_fixed_to_a_time_when_the_delivery_starts(tmp_path: Path) -> None:
    path = tmp_path / "pushgate.db"
    async with SQLiteStore.open(path) as store:
        site, _ = await store.create_site("news", ["https://news.example"])
        await store.add_subscriptions_bulk(site.id, subscribers(4))
        recent = parse_filter({"field": "last_seen_at", "op": "within", "value": "1h"})
        notification, _ = await store.create_notification(
            site.id, NewNotification({"title": "t"}, Audience(filter=recent), 60)
        )
        assert len(await store.expand_audience(notification, 10, 0.0)) == 4
    with sqlite3.connect(path) as db:
        (kept,) = db.execute("SELECT resolved_audience FROM notifications").fetchone()
    leaf = json.loads(kept)
    assert (leaf["field"], leaf["op"]) == ("last_seen_at", "gte")
    assert parse_filter(leaf)  # an RFC 3339 time, an hour before the notification's start


async def test_a_segment_deleted_despite_all_matches_nobody(tmp_path: Path) -> None:
    async with SQLiteStore.open(tmp_path / "pushgate.db") as store:
        site, _ = await store.create_site("news", ["https://news.example"])
        await store.add_subscriptions_bulk(site.id, subscribers(4))
        gone = Audience(segment="never-saved")
        assert await store.count_audience(site.id, gone, 0.0) == 0
        notification, _ = await store.create_notification(
            site.id, NewNotification({"title": "t"}, gone, 60)
        )
        assert await store.expand_audience(notification, 10, 0.0) == []
