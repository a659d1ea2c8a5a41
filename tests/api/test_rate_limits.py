"""Rate limits per client address, per site and per API key, and the subscription cap.

The app runs in-process (`create_app(..., deliver=False)` on `httpx.ASGITransport`) with a
clock the tests move, so no test sleeps; the transport's `client=` sets the socket peer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from starlette.applications import Starlette

from pushgate.api.client_address import ClientAddresses
from pushgate.api.limits import PER_API_KEY, PER_CLIENT, PER_SITE, PER_WEBHOOK, RateLimits
from pushgate.api.ratelimit import MAX_KEYS, RateLimiter, retry_after
from pushgate.app import create_app
from pushgate.settings import Settings, SettingsError
from pushgate.store import Store, open_store
from pushgate.store.base import SubscriptionLimitReached
from pushgate.store.models import NewSubscription
from tests.api.test_subscriptions import VALID_AUTH, VALID_P256DH, body
from tests.conftest import ORIGIN

VISITOR = "203.0.113.7"
OTHER_VISITOR = "203.0.113.8"
PROXY = "10.0.0.5"
FCM = "https://fcm.googleapis.com/fcm/send/"


class FakeClock:
    """Monotonic seconds that only move when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingStore:
    """The real store, counting the API-key lookups that reach it."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.key_lookups = 0

    async def authenticate_api_key(self, api_key: str) -> Any:
        self.key_lookups += 1
        return await self._store.authenticate_api_key(api_key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@dataclass
class Gateway:
    app: Starlette
    store: CountingStore
    clock: FakeClock
    site_id: str
    api_key: str
    stack: AsyncExitStack
    endpoints: int = 0
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    async def client(self, address: str = VISITOR) -> httpx.AsyncClient:
        if address not in self.clients:
            transport = httpx.ASGITransport(app=self.app, client=(address, 40000))
            self.clients[address] = await self.stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://pushgate.test")
            )
        return self.clients[address]

    async def subscribe(
        self, address: str = VISITOR, endpoint: str | None = None, **headers: str
    ) -> httpx.Response:
        if endpoint is None:
            self.endpoints += 1
            endpoint = f"{FCM}{self.endpoints}"
        return await (await self.client(address)).post(
            f"/v1/sites/{self.site_id}/subscriptions",
            json=body(endpoint),
            headers={"Origin": ORIGIN, **headers},
        )

    async def admin_get(self, api_key: str | None, address: str = VISITOR) -> httpx.Response:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        return await (await self.client(address)).get("/api/v1/subscriptions", headers=headers)

    async def stored_endpoints(self) -> set[str]:
        items, _ = await self.store.list_subscriptions(self.site_id, limit=1000, after=0)
        return {s.endpoint for s in items}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path / 'pushgate.db'}") as store:
        yield store


@pytest.fixture
async def gateway_with(store: Store) -> AsyncIterator[Any]:
    """Build the in-process gateway with the given settings; its lifespan ends with the test."""
    async with AsyncExitStack() as stack:

        async def make(**settings: Any) -> Gateway:
            site, api_key = await store.create_site("news", (ORIGIN,))
            clock, counting = FakeClock(), CountingStore(store)
            app = create_app(
                Settings(vapid_subject="mailto:ops@news.example", **settings),
                store=cast(Store, counting),
                deliver=False,
                clock=clock,
            )
            await stack.enter_async_context(app.router.lifespan_context(app))
            return Gateway(app, counting, clock, site.id, api_key, stack)

        yield make


@pytest.fixture
async def gateway(gateway_with: Any) -> Gateway:
    """The default limits."""
    return cast(Gateway, await gateway_with())


def assert_rate_limited(answer: httpx.Response, *, retry: str = "1") -> None:
    assert answer.status_code == 429, answer.text
    assert answer.json()["error"]["code"] == "rate_limited"
    assert answer.json()["error"]["status"] == 429
    assert answer.headers["retry-after"] == retry


# --- per client address --------------------------------------------------------------------


async def test_subscribe_61st_from_one_address_in_a_minute_is_429_with_retry_after_and_cors(
    gateway: Gateway,
) -> None:
    answers = [await gateway.subscribe() for _ in range(61)]
    assert [a.status_code for a in answers[:60]] == [201] * 60
    refused = answers[60]
    assert_rate_limited(refused)
    assert set(refused.json()) == {"error"}
    assert set(refused.json()["error"]) == {"code", "message", "status"}
    assert "60 requests a minute from this address" in refused.json()["error"]["message"]
    assert refused.headers["access-control-allow-origin"] == ORIGIN
    assert len(await gateway.stored_endpoints()) == 60  # the refused one stored nothing


async def test_rate_limited_address_recovers_as_the_clock_advances(gateway: Gateway) -> None:
    for _ in range(60):
        await gateway.subscribe()
    assert_rate_limited(await gateway.subscribe())
    gateway.clock.advance(0.5)
    assert_rate_limited(await gateway.subscribe())  # half a token: still 1 s (rounded up)
    gateway.clock.advance(0.5)
    assert (await gateway.subscribe()).status_code == 201  # one token refilled
    assert_rate_limited(await gateway.subscribe())
    gateway.clock.advance(60)
    assert [(await gateway.subscribe()).status_code for _ in range(61)] == [201] * 60 + [429]


async def test_other_address_is_not_affected_by_a_limited_one(gateway: Gateway) -> None:
    for _ in range(60):
        await gateway.subscribe(VISITOR)
    assert_rate_limited(await gateway.subscribe(VISITOR))
    assert (await gateway.subscribe(OTHER_VISITOR)).status_code == 201


async def test_unsubscribe_and_events_count_to_the_same_address_bucket(gateway: Gateway) -> None:
    http = await gateway.client()
    url = f"/v1/sites/{gateway.site_id}/subscriptions"
    for i in range(30):
        answer = await http.request(
            "DELETE", url, json={"endpoint": f"{FCM}{i}"}, headers={"Origin": ORIGIN}
        )
        assert answer.status_code == 204
    for _ in range(30):
        answer = await http.post(
            "/v1/events", json={"token": "forged", "type": "clicked"}, headers={"Origin": ORIGIN}
        )
        assert answer.json()["error"]["code"] == "invalid_token"
    refused = await http.post(
        "/v1/events", json={"token": "forged", "type": "clicked"}, headers={"Origin": ORIGIN}
    )
    assert_rate_limited(refused)
    assert refused.headers["access-control-allow-origin"] == ORIGIN  # the worker reads the code
    unsubscribe = await http.request(
        "DELETE", url, json={"endpoint": f"{FCM}1"}, headers={"Origin": ORIGIN}
    )
    assert_rate_limited(unsubscribe)
    assert unsubscribe.headers["access-control-allow-origin"] == ORIGIN


async def test_preflights_and_config_are_not_limited(gateway: Gateway) -> None:
    for _ in range(60):
        await gateway.subscribe()
    assert_rate_limited(await gateway.subscribe())
    http = await gateway.client()
    for url in (f"/v1/sites/{gateway.site_id}/subscriptions", "/v1/events"):
        answers = [await http.options(url, headers={"Origin": ORIGIN}) for _ in range(70)]
        assert {a.status_code for a in answers} == {204}
    config = [await http.get(f"/v1/sites/{gateway.site_id}/config") for _ in range(70)]
    assert {a.status_code for a in config} == {200}


async def test_refusal_to_a_foreign_origin_has_no_cors_headers(gateway: Gateway) -> None:
    for _ in range(60):
        await gateway.subscribe()
    refused = await gateway.subscribe(Origin="https://evil.example")
    assert_rate_limited(refused)
    assert "access-control-allow-origin" not in refused.headers


async def test_limit_of_zero_turns_the_client_limit_off(gateway_with: Any) -> None:
    gateway = await gateway_with(rate_limit_per_client=0)
    assert {(await gateway.subscribe()).status_code for _ in range(100)} == {201}


# --- per site --------------------------------------------------------------------------------


async def test_subscribes_to_one_site_over_its_limit_are_429_whatever_the_address(
    gateway_with: Any,
) -> None:
    gateway = await gateway_with(rate_limit_subscribe_per_site=5)
    answers = [await gateway.subscribe(f"198.51.100.{i}") for i in range(6)]
    assert [a.status_code for a in answers] == [201] * 5 + [429]
    assert_rate_limited(answers[5], retry="12")  # 5 a minute: one every 12 s
    assert "5 requests a minute for this site" in answers[5].json()["error"]["message"]
    assert answers[5].headers["access-control-allow-origin"] == ORIGIN
    gateway.clock.advance(12)
    assert (await gateway.subscribe("198.51.100.99")).status_code == 201


async def test_site_limit_counts_only_subscribes(gateway_with: Any) -> None:
    gateway = await gateway_with(rate_limit_subscribe_per_site=2)
    http = await gateway.client()
    for _ in range(5):
        answer = await http.request(
            "DELETE",
            f"/v1/sites/{gateway.site_id}/subscriptions",
            json={"endpoint": f"{FCM}x"},
            headers={"Origin": ORIGIN},
        )
        assert answer.status_code == 204
    assert [(await gateway.subscribe()).status_code for _ in range(3)] == [201, 201, 429]


# --- per API key -----------------------------------------------------------------------------


async def test_admin_calls_over_the_api_key_limit_are_429(gateway_with: Any) -> None:
    gateway = await gateway_with(rate_limit_per_api_key=3)
    answers = [await gateway.admin_get(gateway.api_key, f"198.51.100.{i}") for i in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert_rate_limited(answers[3], retry="20")
    assert "3 requests a minute with this API key" in answers[3].json()["error"]["message"]
    assert "access-control-allow-origin" not in answers[3].headers
    http = await gateway.client()
    notification = await http.post(
        "/api/v1/notifications",
        json={"title": "Goal!"},
        headers={"Authorization": f"Bearer {gateway.api_key}"},
    )
    assert_rate_limited(notification, retry="20")  # every /api/v1/* route
    gateway.clock.advance(20)
    assert (await gateway.admin_get(gateway.api_key)).status_code == 200


async def test_api_key_limit_is_per_key(gateway_with: Any, store: Store) -> None:
    gateway = await gateway_with(rate_limit_per_api_key=3)
    _, other_key = await store.create_site("other", (ORIGIN,))
    for _ in range(3):
        await gateway.admin_get(gateway.api_key)
    assert_rate_limited(await gateway.admin_get(gateway.api_key), retry="20")
    assert (await gateway.admin_get(other_key)).status_code == 200


async def test_flood_of_bad_api_keys_is_refused_before_the_store_lookup(
    gateway_with: Any,
) -> None:
    gateway = await gateway_with(rate_limit_per_api_key=3)
    answers = [await gateway.admin_get("pgk_guess") for _ in range(100)]
    assert [a.status_code for a in answers] == [401] * 3 + [429] * 97
    assert gateway.store.key_lookups == 3


async def test_admin_calls_without_a_key_count_to_the_address(gateway_with: Any) -> None:
    gateway = await gateway_with(rate_limit_per_api_key=3)
    answers = [await gateway.admin_get(None, VISITOR) for _ in range(4)]
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert (await gateway.admin_get(None, OTHER_VISITOR)).status_code == 401
    assert (await gateway.admin_get(gateway.api_key, VISITOR)).status_code == 200


# --- client address behind proxies ---------------------------------------------------------


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(gateway: Gateway) -> None:
    answers = [
        await gateway.subscribe(VISITOR, **{"X-Forwarded-For": f"198.51.100.{i}"})
        for i in range(61)
    ]
    assert [a.status_code for a in answers] == [201] * 60 + [429]


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(gateway_with: Any) -> None:
    gateway = await gateway_with(trusted_proxies=("10.0.0.0/8",))
    # The client may write anything left of what the proxy appended: that is not believed.
    spoofed = [f"6.6.6.{i}, {VISITOR}" for i in range(61)]
    answers = [await gateway.subscribe(PROXY, **{"X-Forwarded-For": xff}) for xff in spoofed]
    assert [a.status_code for a in answers] == [201] * 60 + [429]
    through_two_proxies = f"{OTHER_VISITOR}, 10.1.2.3"
    other = await gateway.subscribe(PROXY, **{"X-Forwarded-For": through_two_proxies})
    assert other.status_code == 201
    without_header = await gateway.subscribe(PROXY)
    assert without_header.status_code == 201  # the proxy's own bucket


def scope(peer: str | None, *forwarded_for: str) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded_for]
    return {"type": "http", "client": (peer, 1234) if peer else None, "headers": headers}


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "key"),
    [
        ("203.0.113.7", ("198.51.100.1",), "203.0.113.7"),  # untrusted peer: header ignored
        ("10.0.0.5", ("198.51.100.1",), "198.51.100.1"),
        ("10.0.0.5", ("198.51.100.1, 10.9.9.9",), "198.51.100.1"),  # skips trusted proxies
        ("10.0.0.5", ("6.6.6.6", "198.51.100.1"), "198.51.100.1"),  # two header lines
        ("10.0.0.5", ("198.51.100.1:5555",), "198.51.100.1"),
        ("10.0.0.5", ("[2001:db8:1:2:3::9]:443",), "2001:db8:1:2::/64"),
        ("10.0.0.5", ("not-an-address",), "10.0.0.5"),  # garbage: key on the proxy
        ("10.0.0.5", ("10.1.1.1",), "10.0.0.5"),  # only proxies: the peer
        ("10.0.0.5", (), "10.0.0.5"),
        ("::ffff:10.0.0.5", ("198.51.100.1",), "198.51.100.1"),  # dual-stack socket
        ("2001:db8:aa:bb:1:2:3:4", (), "2001:db8:aa:bb::/64"),  # one host, one /64
        ("fd00::1", ("198.51.100.1",), "198.51.100.1"),
        ("testclient", (), "testclient"),
        (None, (), "unknown"),
    ],
)
def test_client_address(peer: str | None, forwarded_for: tuple[str, ...], key: str) -> None:
    addresses = ClientAddresses(("10.0.0.0/8", "fd00::1"))
    assert addresses.key(scope(peer, *forwarded_for)) == key


def test_trusted_proxies_that_are_not_addresses_are_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="'proxy.internal' is not an address or network"):
        ClientAddresses(("10.0.0.0/8", "proxy.internal"))


# --- the limiter ---------------------------------------------------------------------------


def test_limiter_memory_is_bounded_with_200000_distinct_addresses() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock)
    for i in range(200_000):
        assert limiter.acquire(f"198.{i >> 16}.{(i >> 8) & 255}.{i & 255}") == 0
    assert len(limiter) == MAX_KEYS
    clock.advance(60)  # every bucket is full again, and a full bucket needs no entry
    limiter.acquire(VISITOR)
    assert len(limiter) == 1


def test_limiter_evicts_the_least_recently_used_bucket() -> None:
    limiter = RateLimiter(1, clock=FakeClock(), max_keys=2)
    limiter.acquire("a")
    limiter.acquire("b")
    assert limiter.acquire("a") > 0  # touches "a"
    limiter.acquire("c")  # evicts "b"
    assert limiter.acquire("b") == 0
    assert limiter.acquire("c") > 0


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert [retry_after(s) for s in (0.001, 1.0, 1.2, 59.0)] == ["1", "1", "2", "59"]


def test_limits_of_zero_build_no_limiter() -> None:
    limits = RateLimits(Settings(rate_limit_per_client=0))
    assert PER_CLIENT not in limits.limiters
    assert set(limits.limiters) == {PER_SITE, PER_API_KEY, PER_WEBHOOK}


# --- the subscription cap ------------------------------------------------------------------


async def test_subscribe_at_the_cap_is_403_and_stores_nothing(gateway_with: Any) -> None:
    gateway = await gateway_with(max_subscriptions_per_site=2)
    first, second = await gateway.subscribe(), await gateway.subscribe()
    over = await gateway.subscribe(endpoint=f"{FCM}over")
    assert (first.status_code, second.status_code) == (201, 201)
    assert over.status_code == 403
    assert over.json()["error"]["code"] == "subscription_limit"
    assert over.headers["access-control-allow-origin"] == ORIGIN
    again = await gateway.subscribe(endpoint=f"{FCM}1")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert await gateway.stored_endpoints() == {f"{FCM}1", f"{FCM}2"}


async def test_subscriber_moving_endpoint_at_the_cap_keeps_its_subscription(
    gateway_with: Any,
) -> None:
    gateway = await gateway_with(max_subscriptions_per_site=1)
    first = await gateway.subscribe(endpoint=f"{FCM}old")
    http = await gateway.client()
    moved = await http.post(
        f"/v1/sites/{gateway.site_id}/subscriptions",
        json=body(f"{FCM}new", old_endpoint=f"{FCM}old"),
        headers={"Origin": ORIGIN},
    )
    assert moved.status_code == 200 and moved.json()["id"] == first.json()["id"]
    assert await gateway.stored_endpoints() == {f"{FCM}new"}


async def test_concurrent_subscribes_never_pass_the_cap(gateway_with: Any) -> None:
    gateway = await gateway_with(max_subscriptions_per_site=5)
    answers = await asyncio.gather(*(gateway.subscribe(f"198.51.100.{i}") for i in range(20)))
    assert sorted(a.status_code for a in answers) == [201] * 5 + [403] * 15
    assert len(await gateway.stored_endpoints()) == 5


def new_subscription(n: int) -> NewSubscription:
    return NewSubscription(endpoint=f"{FCM}{n}", p256dh=VALID_P256DH, auth=VALID_AUTH)


async def test_bulk_add_past_the_cap_stores_none(store: Store) -> None:
    site, _ = await store.create_site("bulk", (ORIGIN,))
    assert await store.add_subscriptions_bulk(site.id, [new_subscription(0)]) == 1
    with pytest.raises(SubscriptionLimitReached):
        batch = [new_subscription(n) for n in range(3)]
        await store.add_subscriptions_bulk(site.id, batch, max_subscriptions=2)
    added = await store.add_subscriptions_bulk(
        site.id, [new_subscription(n) for n in range(2)], max_subscriptions=2
    )
    assert added == 1  # endpoint 0 was known already
    items, _ = await store.list_subscriptions(site.id, limit=10, after=0)
    assert {s.endpoint for s in items} == {f"{FCM}0", f"{FCM}1"}
