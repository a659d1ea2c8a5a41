"""The browser-facing routes' site cache (api/site_cache.py, issue #14 part 4): one read of a
site per CACHE_SECONDS, this gateway's own changes seen at once, another process's within
CACHE_SECONDS, a site deleted meanwhile answered 404 (never 500), made-up ids never kept.

In-process app with a clock the tests move (tests/api/test_rate_limits.py), so no test sleeps.
"""

from __future__ import annotations

from typing import Any, cast

import pytest

from pushgate.api.site_cache import CACHE_SECONDS, SITES_KEPT, SiteCache
from pushgate.store.models import SiteChange
from tests.api.test_rate_limits import Gateway, gateway_with, store  # noqa: F401 (fixtures)

NO_LIMITS = {"rate_limit_per_client": 0, "rate_limit_subscribe_per_site": 0}


class SiteReads:
    """Counts the store's get_site calls of one gateway."""

    def __init__(self, target: Gateway) -> None:
        self.count = 0
        real = target.store.get_site

        async def counted(site_id: str) -> Any:
            self.count += 1
            return await real(site_id)

        target.store.get_site = counted  # type: ignore[method-assign]


def cache_of(target: Gateway) -> SiteCache:
    return cast(SiteCache, target.app.state.ctx.sites)


@pytest.fixture
async def quiet(gateway_with: Any) -> Gateway:  # noqa: F811 (the imported fixture)
    return cast(Gateway, await gateway_with(**NO_LIMITS))


async def test_subscribes_read_the_site_once_per_cache_period(quiet: Gateway) -> None:
    reads = SiteReads(quiet)
    for _ in range(20):
        assert (await quiet.subscribe()).status_code == 201
    assert reads.count == 1
    quiet.clock.advance(CACHE_SECONDS + 0.01)
    assert (await quiet.subscribe()).status_code == 201
    assert reads.count == 2


async def test_another_process_changing_origins_is_seen_after_the_cache_period(
    quiet: Gateway,
) -> None:
    assert (await quiet.subscribe()).status_code == 201
    # As `pushgate sites update --remove-origin` or another gateway would: not through this app.
    await quiet.store.update_site(
        quiet.site_id,
        SiteChange(origins=("https://other.example",), given=frozenset({"origins"})),
    )
    assert (await quiet.subscribe()).status_code == 201  # within CACHE_SECONDS: as read
    quiet.clock.advance(CACHE_SECONDS + 0.01)
    refused = await quiet.subscribe()
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "origin_not_allowed"


async def test_a_change_through_this_gateways_api_is_seen_by_the_next_request(
    quiet: Gateway,
) -> None:
    assert (await quiet.subscribe()).status_code == 201
    client = await quiet.client()
    changed = await client.patch(
        "/api/v1/site",
        json={"origins": ["https://other.example"]},
        headers={"Authorization": f"Bearer {quiet.api_key}"},
    )
    assert changed.status_code == 200, changed.text
    refused = await quiet.subscribe()  # the clock has not moved
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "origin_not_allowed"


async def test_any_admin_write_drops_what_another_process_changed(quiet: Gateway) -> None:
    assert (await quiet.subscribe()).status_code == 201
    await quiet.store.update_site(
        quiet.site_id,
        SiteChange(origins=("https://other.example",), given=frozenset({"origins"})),
    )
    client = await quiet.client()
    made = await client.post(
        "/api/v1/keys", json={"name": "cms"}, headers={"Authorization": f"Bearer {quiet.api_key}"}
    )
    assert made.status_code == 201, made.text
    assert (await quiet.subscribe()).status_code == 403


async def test_a_site_deleted_by_another_process_is_404_not_500(quiet: Gateway) -> None:
    assert (await quiet.subscribe()).status_code == 201
    assert await quiet.store.delete_site(quiet.site_id)
    gone = await quiet.subscribe()  # the cached site still says yes to the origin
    assert gone.status_code == 404, gone.text
    assert gone.json()["error"]["code"] == "not_found"
    quiet.clock.advance(CACHE_SECONDS + 0.01)
    assert (await quiet.subscribe()).status_code == 404


async def test_made_up_site_ids_are_never_kept(quiet: Gateway) -> None:
    client = await quiet.client()
    for n in range(50):
        answer = await client.post(
            f"/v1/sites/nosuchsite{n}/subscriptions",
            json={},
            headers={"Origin": "https://x.example"},
        )
        assert answer.status_code == 404
    assert cache_of(quiet)._kept.keys() <= {quiet.site_id}
    assert SITES_KEPT >= 1000  # a busy multi-site gateway keeps its sites
