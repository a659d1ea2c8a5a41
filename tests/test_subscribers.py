"""Subscriptions stored by any path keep to the push-service allowlist."""

from __future__ import annotations

from pathlib import Path

import pytest

from pushgate.store import open_store
from pushgate.store.models import NewSubscription
from pushgate.subscribers import import_subscriptions
from pushgate.webpush.allowlist import EndpointPolicy, EndpointRejected
from tests.api.test_subscriptions import VALID_P256DH


async def test_import_refuses_an_endpoint_off_the_allowlist_and_stores_none(
    tmp_path: Path,
) -> None:
    async with open_store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        site, _ = await store.create_site("s", ["https://a.example"])
        subs = [
            NewSubscription("https://fcm.googleapis.com/fcm/send/1", VALID_P256DH, "A" * 22),
            NewSubscription("http://169.254.169.254/latest/meta-data", VALID_P256DH, "A" * 22),
        ]
        with pytest.raises(EndpointRejected, match="subscription 1"):
            await import_subscriptions(store, EndpointPolicy(), site.id, subs)
        page, _ = await store.list_subscriptions(site.id, limit=10, after=0)
        assert page == []
        assert await import_subscriptions(store, EndpointPolicy(), site.id, subs[:1]) == 1
