"""Migration 6 turns the computed push_service into a stored one, and fills it in for every
subscription already there, as the endpoint's host says."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pushgate.audience.fields import push_service_of
from pushgate.audience.parse import parse_filter
from pushgate.store.models import Audience
from pushgate.store.sqlite import SQLiteStore, connection

ENDPOINTS = {
    "https://fcm.googleapis.com/fcm/send/1": "fcm",
    "https://android.googleapis.com/gcm/send/2": "fcm",
    "https://updates.push.services.mozilla.com/wpush/v2/3": "mozilla",
    "https://web.push.apple.com/4": "apple",
    "https://wns2-by3p.notify.windows.com/w/?token=5": "wns",
    "http://127.0.0.1:9/push/6": "other",
    "https://fcm.googleapis.com.example/7": "other",
}


async def test_stored_subscriptions_get_their_push_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "pushgate.db"
    with monkeypatch.context() as before:  # a database as pushgate left it at schema 5
        before.setattr(connection, "SCHEMA_VERSION", 5)
        async with SQLiteStore.open(path):
            pass
    site_id = "news"
    with sqlite3.connect(path) as db:  # as schema 5's code wrote them: today's writes later columns
        db.execute(
            "INSERT INTO sites (id, name, origins, vapid_private_key, vapid_public_key, "
            "prompt_text, created_at) VALUES (?, 'news', '[\"https://news.example\"]', 'x', 'y', "
            "'', 0)",
            (site_id,),
        )
        db.executemany(
            "INSERT INTO subscriptions (id, site_id, endpoint, p256dh, auth, created_at, "
            "last_seen_at) VALUES (?, ?, ?, 'k', 'a', 0, 0)",
            [(str(i), site_id, endpoint) for i, endpoint in enumerate(ENDPOINTS)],
        )
    async with SQLiteStore.open(path) as store:
        for service in ("fcm", "mozilla", "apple", "wns", "other"):
            leaf = {"field": "push_service", "op": "eq", "value": service}
            audience = Audience(filter=parse_filter(leaf))
            expected = list(ENDPOINTS.values()).count(service)
            assert await store.count_audience(site_id, audience, 0.0) == expected, service
    with sqlite3.connect(path) as db:
        stored = dict(db.execute("SELECT endpoint, push_service FROM subscriptions"))
    assert stored == ENDPOINTS
    # and what the gateway writes for new subscriptions agrees with the backfill
    assert {endpoint: push_service_of(endpoint) for endpoint in ENDPOINTS} == ENDPOINTS
