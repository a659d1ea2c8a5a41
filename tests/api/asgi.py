"""The app in-process (`create_app(..., deliver=False)` on a temporary SQLite file), no server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pushgate.app import create_app
from pushgate.settings import Settings
from pushgate.store import Store, open_store
from tests.conftest import ORIGIN, UNUSED_PUSH_HOST, VAPID_SUBJECT

BASE_URL = "http://testserver"


def handler_settings(folder: Path) -> Settings:
    """Settings for handler tests: no rate limits, one extra (unused) push host."""
    return Settings(
        database=f"sqlite:///{folder / 'pushgate.db'}",
        public_url=BASE_URL,
        vapid_subject=VAPID_SUBJECT,
        allowed_push_hosts=(UNUSED_PUSH_HOST,),
        rate_limit_per_client=0,
        rate_limit_subscribe_per_site=0,
        rate_limit_per_api_key=0,
    )


@dataclass
class InProcess:
    client: httpx.AsyncClient
    store: Store
    site_id: str
    api_key: str

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def subscriptions_url(self) -> str:
        return f"/v1/sites/{self.site_id}/subscriptions"


@asynccontextmanager
async def in_process(folder: Path, wrap: Any = None) -> AsyncIterator[InProcess]:
    """A site and its API key, and a client on the app; `wrap(store)` may stand in for the store."""
    settings = handler_settings(folder)
    async with open_store(settings) as store:
        site, api_key = await store.create_site("news", [ORIGIN])
        app = create_app(settings, store=wrap(store) if wrap else store, deliver=False)
        async with app.router.lifespan_context(app):
            # 500s are answers to check here, not exceptions to raise in the test.
            transport = httpx.ASGITransport(app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
                yield InProcess(client, store, site.id, api_key)
