"""Filters (#9 item 2) at the API: every malformed filter is a 400 naming its path and changes
nothing; counts are exact for every audience form; browser, push service and country are
derived as documented (GeoIP from a small .mmdb written here); and a notification sent to a
filter reaches exactly the matching subscribers, decrypted at the local push service."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from pushgate.app import create_app
from pushgate.store import open_store
from pushgate.testing import LocalPushService
from tests.api.asgi import BASE_URL, InProcess, handler_settings, in_process
from tests.api.test_subscriptions import FCM, body
from tests.conftest import ORIGIN, UNUSED_PUSH_HOST, Site, site_of, wait_until_done

TAG = {"field": "tags.plan", "op": "eq", "value": "pro"}
MOZILLA = "https://updates.push.services.mozilla.com/wpush/v2/abc"
APPLE = "https://web.push.apple.com/QGx1"
WNS = "https://wns2-by3p.notify.windows.com/w/?token=abc"
OTHER = f"http://{UNUSED_PUSH_HOST}/push/1"
OPERA_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0"
)
SAMSUNG_UA = (
    "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36"
)
FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = TAG
    for _ in range(levels - 1):
        node = {"not": node}
    return node


# (filter, the path and words the 400 names)
MALFORMED: list[tuple[Any, str]] = [
    (
        {"and": [TAG, TAG, {"field": "tags.plan", "op": "equals", "value": "pro"}]},
        'audience.filter.and[2].op: unknown operator "equals"',
    ),
    ({"field": "plan", "op": "eq", "value": 1}, 'audience.filter.field: unknown field "plan"'),
    ({"field": "tags.bad name", "op": "exists"}, "audience.filter.field: a tag name"),
    ({"field": "language", "op": "gt", "value": "en"}, "audience.filter.op: language takes eq"),
    ({"field": "tags.plan", "op": "exists", "value": 1}, "audience.filter.value: exists takes"),
    ({"field": "tags.plan", "op": "eq"}, "audience.filter.value: eq needs a value"),
    ({"field": "tags.plan", "op": "in", "value": []}, "audience.filter.value: in takes a list"),
    (
        {"field": "tags.n", "op": "in", "value": list(range(10_001))},
        "audience.filter.value: in takes a list of 1-10000",
    ),
    ({"field": "tags.plan", "op": "eq", "value": {"a": 1}}, "audience.filter.value: a tag value"),
    ({"field": "tags.plan", "op": "in", "value": ["a", None]}, "audience.filter.value[1]"),
    ({"field": "tags.score", "op": "gt", "value": "5"}, "audience.filter.value: must be a number"),
    ({"field": "tags.score", "op": "gt", "value": True}, "audience.filter.value: must be a number"),
    ({"field": "created_at", "op": "within", "value": "7w"}, "audience.filter.value: within"),
    ({"field": "created_at", "op": "within", "value": 7}, "audience.filter.value: within"),
    (
        {"field": "last_seen_at", "op": "gt", "value": "2026-01-01T00:00:00"},
        "audience.filter.value: must be an RFC 3339 time",
    ),
    (
        {"field": "created_at", "op": "gte", "value": "2026-02-30T00:00:00Z"},
        "audience.filter.value: must be an RFC 3339 time",
    ),
    ({"field": "created_at", "op": "eq", "value": "x"}, "audience.filter.op: created_at takes"),
    ({"field": "country", "op": "eq", "value": "Germany"}, "ISO 3166-1 alpha-2"),
    ({"field": "country", "op": "eq", "value": "XX"}, 'audience.filter.value: "XX" is not'),
    ({"field": "browser", "op": "eq", "value": "netscape"}, "is not one of chrome"),
    ({"field": "push_service", "op": "in", "value": ["gcm"]}, "audience.filter.value[0]"),
    ({"field": "timezone", "op": "eq", "value": "Mars/Base"}, "not an IANA time zone"),
    ({"field": "language", "op": "eq", "value": "english!"}, "not a BCP 47 language tag"),
    ({"field": "external_id", "op": "eq", "value": ""}, "audience.filter.value: an external"),
    (deep(9), "filters nest at most 8 levels deep"),
    ({"or": [TAG] * 201}, "audience.filter: a filter holds at most 200 leaves; this has 201"),
    ({"and": []}, "audience.filter.and: must be a non-empty list"),
    ({"or": TAG}, "audience.filter.or: must be a non-empty list"),
    ({"and": [TAG], "or": [TAG]}, "audience.filter: and stands alone"),
    ({"not": TAG, "field": "x"}, "audience.filter: not stands alone"),
    ({**TAG, "values": 1}, "audience.filter.values: unknown member"),
    ({"not": [TAG]}, "audience.filter.not: a filter is a JSON object"),
    ([TAG], "audience.filter: a filter is a JSON object"),
    ({}, "audience.filter: a filter is a JSON object"),
    ({"segment": "Sports!"}, "audience.filter.segment: a segment name is 1-64"),
    ({"segment": "nobody-saved-this"}, "audience.filter: no segment named 'nobody-saved-this'"),
]


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path) as app:
        yield app


def rows(folder: Path, table: str) -> int:
    with sqlite3.connect(folder / "pushgate.db") as db:
        return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def refused(answer: httpx.Response, words: str) -> None:
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_request"
    assert answer.json()["error"]["status"] == 400
    assert words in answer.json()["error"]["message"], answer.json()["error"]["message"]


@pytest.mark.parametrize(("malformed", "words"), MALFORMED)
async def test_a_malformed_filter_is_a_400_naming_its_path_and_changes_nothing(
    app: InProcess, tmp_path: Path, malformed: Any, words: str
) -> None:
    sent = {"title": "t", "audience": {"filter": malformed}}
    answer = await app.client.post("/api/v1/notifications", json=sent, headers=app.admin_headers)
    refused(answer, words)
    count = {"audience": {"filter": malformed}}
    answer = await app.client.post("/api/v1/audiences/count", json=count, headers=app.admin_headers)
    refused(answer, words)
    segment = {"name": "s", "filter": malformed}
    answer = await app.client.post("/api/v1/segments", json=segment, headers=app.admin_headers)
    refused(answer, words.replace("audience.filter", "filter"))
    assert (rows(tmp_path, "notifications"), rows(tmp_path, "segments")) == (0, 0)


@pytest.mark.parametrize(
    ("audience", "words"),
    [
        ({"segment": "Sports"}, "audience.segment: a segment name is 1-64 of a-z 0-9 _ -"),
        ({"segment": "missing"}, "audience.segment: no segment named 'missing'"),
        ({"filters": TAG}, "unknown audience 'filters'"),
        ({"filter": TAG, "all": True}, "audience takes exactly one of"),
    ],
)
async def test_a_malformed_audience_is_a_400(
    app: InProcess, tmp_path: Path, audience: Any, words: str
) -> None:
    sent = {"title": "t", "audience": audience}
    answer = await app.client.post("/api/v1/notifications", json=sent, headers=app.admin_headers)
    refused(answer, words)
    answer = await app.client.post(
        "/api/v1/audiences/count", json={"audience": audience}, headers=app.admin_headers
    )
    refused(answer, words)
    assert rows(tmp_path, "notifications") == 0


async def subscribe(app: InProcess, endpoint: str, ua: str = "", **extra: Any) -> str:
    answer = await app.client.post(
        app.subscriptions_url,
        json=body(endpoint, **extra),
        headers={"Origin": ORIGIN, "User-Agent": ua},
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def count(app: InProcess, audience: Any) -> int:
    answer = await app.client.post(
        "/api/v1/audiences/count", json={"audience": audience}, headers=app.admin_headers
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["count"])


def where(field: str, op: str, value: Any = None) -> dict[str, Any]:
    leaf = {"field": field, "op": op}
    return {"filter": leaf if value is None else leaf | {"value": value}}


async def test_counts_are_exact_for_every_audience_form(app: InProcess) -> None:
    first = await subscribe(app, FCM, tags={"plan": "pro", "score": 5}, external_id="u1")
    await subscribe(app, MOZILLA, tags={"plan": "free", "score": "5"}, external_id="u2")
    await subscribe(app, APPLE, tags={"beta": True})
    assert await count(app, {"all": True}) == 3
    assert await count(app, {"tags": {"score": 5}}) == 1
    assert await count(app, {"external_ids": ["u1", "u2", "u9"]}) == 2
    assert await count(app, {"subscription_ids": [first]}) == 1
    assert await count(app, where("tags.score", "exists")) == 2
    assert await count(app, where("tags.score", "eq", "5")) == 1
    assert await count(app, {"filter": {"not": TAG}}) == 2
    assert await count(app, where("tags.beta", "eq", 1)) == 0
    segment = {"name": "pros", "filter": TAG}
    assert (
        await app.client.post("/api/v1/segments", json=segment, headers=app.admin_headers)
    ).status_code == 201
    assert await count(app, {"segment": "pros"}) == 1
    assert await count(app, {"filter": {"not": {"segment": "pros"}}}) == 2


async def test_browser_and_push_service_come_from_the_user_agent_and_endpoint(
    app: InProcess,
) -> None:
    await subscribe(app, FCM, OPERA_UA)
    await subscribe(app, MOZILLA, FIREFOX_UA)
    await subscribe(app, APPLE, SAMSUNG_UA)
    await subscribe(app, WNS, "curl/8.0")
    await subscribe(app, OTHER)
    expected = {"opera": 1, "firefox": 1, "samsung": 1, "other": 1, "chrome": 0}
    for browser, n in expected.items():
        assert await count(app, where("browser", "eq", browser)) == n, browser
    assert await count(app, where("browser", "not_exists")) == 1  # no User-Agent at all
    for service in ("fcm", "mozilla", "apple", "wns", "other"):
        assert await count(app, where("push_service", "eq", service)) == 1, service


async def test_country_comes_from_the_time_zone_without_geoip(app: InProcess) -> None:
    await subscribe(app, FCM, timezone="Europe/Berlin", language="de-DE")
    await subscribe(app, MOZILLA, timezone="America/New_York", language="en-US")
    await subscribe(app, APPLE, timezone="UTC", language="en")
    await subscribe(app, WNS)
    assert await count(app, where("country", "eq", "DE")) == 1
    assert await count(app, where("country", "in", ["us", "DE"])) == 2
    assert await count(app, where("country", "ne", "DE")) == 1  # UTC and no zone: no country
    assert await count(app, where("country", "not_exists")) == 2
    assert await count(app, {"filter": {"not": where("country", "eq", "DE")["filter"]}}) == 3
    assert await count(app, where("language", "eq", "en")) == 2
    assert await count(app, where("language", "eq", "EN-us")) == 1
    assert await count(app, where("language", "ne", "en")) == 1


@asynccontextmanager
async def app_with(
    folder: Path, wall_clock: Any = None, **changes: Any
) -> AsyncIterator[InProcess]:
    """The app with these settings changed (and a wall clock), its client at 127.0.0.1."""
    settings = replace(handler_settings(folder), **changes)
    async with open_store(settings) as store:
        site, api_key = await store.create_site("news", [ORIGIN])
        app = create_app(settings, store=store, deliver=False, wall_clock=wall_clock)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app, client=("127.0.0.1", 5000))
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
                yield InProcess(client, store, site.id, api_key)


def with_geoip(folder: Path) -> Any:
    """The app with PUSHGATE_GEOIP_DATABASE on a .mmdb written here, behind a trusted proxy."""
    writer = MMDBWriter(ip_version=6, database_type="GeoIP2-Country", ipv4_compatible=True)
    writer.insert_network(IPSet(["127.0.0.0/8"]), {"country": {"iso_code": "FR"}})
    writer.insert_network(IPSet(["203.0.113.0/24"]), {"country": {"iso_code": "JP"}})
    writer.to_db_file(str(folder / "countries.mmdb"))
    return app_with(
        folder, geoip_database=str(folder / "countries.mmdb"), trusted_proxies=("127.0.0.1",)
    )


async def test_within_counts_back_from_the_apps_wall_clock(tmp_path: Path) -> None:
    now = [time.time()]
    async with app_with(tmp_path, wall_clock=lambda: now[0]) as app:
        await subscribe(app, FCM)
        await subscribe(app, MOZILLA)
        assert await count(app, where("last_seen_at", "within", "1h")) == 2
        now[0] += 2 * 86400
        assert await count(app, where("last_seen_at", "within", "1d")) == 0
        assert await count(app, where("created_at", "within", "3d")) == 2


async def test_geoip_country_wins_over_the_zone_and_the_address_is_not_stored(
    tmp_path: Path,
) -> None:
    async with with_geoip(tmp_path) as app:
        await subscribe(app, FCM, timezone="Europe/Berlin")  # from 127.0.0.1: FR
        answer = await app.client.post(
            app.subscriptions_url,
            json=body(MOZILLA, timezone="Europe/Berlin"),
            headers={"Origin": ORIGIN, "X-Forwarded-For": "198.51.100.7, 203.0.113.77"},
        )
        assert answer.status_code == 201, answer.text
        await subscribe(app, APPLE, timezone="Europe/Berlin")
        assert await count(app, where("country", "eq", "FR")) == 2
        assert await count(app, where("country", "eq", "JP")) == 1
        assert await count(app, where("country", "eq", "DE")) == 0
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("pushgate.db*"))
    assert b"203.0.113.77" not in stored and b"198.51.100.7" not in stored


def test_an_unreadable_geoip_database_stops_the_app(tmp_path: Path) -> None:
    from pushgate.api.geo import open_country_finder
    from pushgate.settings import SettingsError

    (tmp_path / "broken.mmdb").write_bytes(b"not a database")
    settings = replace(handler_settings(tmp_path), geoip_database=str(tmp_path / "broken.mmdb"))
    with pytest.raises(SettingsError, match="PUSHGATE_GEOIP_DATABASE"):
        open_country_finder(settings, None)  # type: ignore[arg-type]


async def test_a_notification_to_a_filter_reaches_exactly_the_matching_subscribers(
    push_service: LocalPushService, gateway_factory: Any
) -> None:
    site = site_of(gateway_factory(push_service.host_port))
    async with httpx.AsyncClient(base_url=site.gateway.base_url, timeout=30) as client:
        await _send_to_a_filter(push_service, site, client)


async def _send_to_a_filter(
    push_service: LocalPushService, site: Site, client: httpx.AsyncClient
) -> None:
    plans = ["pro", "free", 5, None]
    browsers = [push_service.new_browser() for _ in range(40)]
    for i, browser in enumerate(browsers):
        tags = {} if plans[i % 4] is None else {"plan": plans[i % 4]}
        answer = await client.post(
            site.subscriptions_url,
            json={
                "subscription": browser.subscription(),
                "tags": tags | {"score": i},
                "language": "en-GB" if i % 3 else "de",
            },
            headers={"Origin": ORIGIN},
        )
        assert answer.status_code == 201, answer.text
    audience = {
        "filter": {
            "and": [
                {"not": {"field": "tags.plan", "op": "eq", "value": "pro"}},
                {"field": "tags.score", "op": "gte", "value": 10},
                {"field": "language", "op": "eq", "value": "en"},
            ]
        }
    }
    expected = [i for i in range(40) if plans[i % 4] != "pro" and i >= 10 and i % 3]
    counted = await client.post(
        "/api/v1/audiences/count", json={"audience": audience}, headers=site.admin_headers
    )
    assert counted.json() == {"count": len(expected)}
    sent = {"title": "Only some", "audience": audience}
    answer = await client.post("/api/v1/notifications", json=sent, headers=site.admin_headers)
    assert answer.status_code == 202, answer.text
    status = await wait_until_done(client, site, answer.json()["id"])
    assert status["counts"]["targeted"] == status["counts"]["accepted"] == len(expected)
    assert status["audience"] == audience
    received = [i for i, b in enumerate(browsers) if b.messages]
    assert received == expected
    for i in expected:
        [message] = browsers[i].messages
        assert message.decrypt_error is None
        assert message.json()["notification"]["title"] == "Only some"


async def test_every_tag_write_keeps_the_filters_true(app: InProcess, tmp_path: Path) -> None:
    from pushgate.store.models import NewSubscription
    from pushgate.subscribers import import_subscriptions
    from pushgate.webpush.allowlist import EndpointPolicy
    from tests.api.test_subscriptions import VALID_AUTH, VALID_P256DH

    def pro() -> dict[str, Any]:
        return where("tags.plan", "eq", "pro")

    first = await subscribe(app, FCM, tags={"plan": "pro"}, external_id="u1")
    assert await count(app, pro()) == 1
    again = await app.client.post(  # a subscribe POST replaces the tags
        app.subscriptions_url, json=body(FCM, tags={"plan": "free"}), headers={"Origin": ORIGIN}
    )
    assert again.status_code == 200, again.text
    assert await count(app, pro()) == 0
    patched = await app.client.patch(
        f"/api/v1/subscriptions/{first}", json={"tags": {"plan": "pro"}}, headers=app.admin_headers
    )
    assert patched.status_code == 200, patched.text
    assert await count(app, pro()) == 1
    await subscribe(app, MOZILLA, external_id="u1")
    user = await app.client.patch(
        "/api/v1/users/u1", json={"tags": {"plan": "pro", "score": 3}}, headers=app.admin_headers
    )
    assert user.json()["updated"] == 2
    assert await count(app, pro()) == 2
    assert await count(app, where("tags.score", "lt", 4)) == 2
    deleted = await app.client.patch(
        "/api/v1/users/u1", json={"tags": {"plan": None}}, headers=app.admin_headers
    )
    assert deleted.status_code == 200
    assert await count(app, where("tags.plan", "exists")) == 0
    imported = [
        NewSubscription(f"{FCM}-import-{i}", VALID_P256DH, VALID_AUTH, tags={"plan": "pro"})
        for i in range(3)
    ]
    policy = EndpointPolicy((UNUSED_PUSH_HOST,))
    assert await import_subscriptions(app.store, policy, app.site_id, imported) == 3
    assert await count(app, pro()) == 3
    removed = await app.client.delete(f"/api/v1/subscriptions/{first}", headers=app.admin_headers)
    assert removed.status_code == 204
    assert await count(app, where("tags.score", "exists")) == 1
    with sqlite3.connect(tmp_path / "pushgate.db") as db:  # a removed subscriber's tags go too
        orphans = "SELECT COUNT(*) FROM subscription_tags WHERE subscription_key NOT IN "
        assert db.execute(orphans + "(SELECT key FROM subscriptions)").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM subscription_tags").fetchone()[0] == 4
