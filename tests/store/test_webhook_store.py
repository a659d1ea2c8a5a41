"""Webhooks in the store, on both backends: found by their token, sealed at rest, resealed by
`pushgate secrets rotate`, names unique per site."""

from __future__ import annotations

import pytest

from pushgate.settings import Settings
from pushgate.store import open_store
from pushgate.store.automation_models import Webhook
from pushgate.store.base import WebhookExists
from pushgate.store.sealing import generate_key


def hook(site_id: str, name: str = "cms", secret: str | None = "hmac-secret-0123456789") -> Webhook:
    return Webhook(
        id=f"id-{name}",
        site_id=site_id,
        name=name,
        token=f"token-of-{name}",
        secret=secret,
        notification={"title": "{{ payload.title }}"},
        dedupe_key="{{ payload.id }}",
        created_at=1.0,
        updated_at=1.0,
    )


async def test_webhooks_round_trip_sealed_and_survive_a_key_rotation(database_url: str) -> None:
    old, new = generate_key(), generate_key()
    async with open_store(Settings(database=database_url, secret_key=old)) as store:
        site, _ = await store.create_site("news", ["https://news.example"])
        created = await store.create_webhook(hook(site.id))
        await store.create_webhook(hook(site.id, "unsigned", secret=None))
        assert await store.webhook_by_token("token-of-cms") == created
        assert await store.webhook_by_token("token-of-nothing") is None
        with pytest.raises(WebhookExists):
            await store.create_webhook(
                Webhook(**{**hook(site.id).__dict__, "id": "x", "token": "t"})
            )
    async with open_store(Settings(database=database_url, secret_key=f"{new},{old}")) as store:
        await store.reseal_site_keys()
    async with open_store(Settings(database=database_url, secret_key=new)) as store:
        found = await store.webhook_by_token("token-of-cms")
        assert found == created
        assert (await store.webhook_by_token("token-of-unsigned")).secret is None  # type: ignore[union-attr]
        assert [w.name for w in await store.list_webhooks(site.id)] == ["cms", "unsigned"]


async def test_replace_and_delete_stay_within_the_site(database_url: str) -> None:
    async with open_store(Settings(database=database_url)) as store:
        site, _ = await store.create_site("news", ["https://news.example"])
        other, _ = await store.create_site("other", ["https://other.example"])
        await store.create_webhook(hook(site.id))
        await store.create_webhook(hook(site.id, "second"))
        stranger = Webhook(**{**hook(site.id).__dict__, "site_id": other.id, "name": "mine"})
        assert await store.replace_webhook(stranger) is None
        renamed = Webhook(**{**hook(site.id).__dict__, "name": "second"})
        with pytest.raises(WebhookExists):
            await store.replace_webhook(renamed)
        changed = Webhook(**{**hook(site.id).__dict__, "secret": None, "updated_at": 2.0})
        assert await store.replace_webhook(changed) == changed
        assert await store.get_webhook(site.id, "id-cms") == changed
        assert await store.get_webhook(other.id, "id-cms") is None
        assert not await store.delete_webhook(other.id, "id-cms")
        assert await store.delete_webhook(site.id, "id-cms")
        assert await store.webhook_by_token("token-of-cms") is None
