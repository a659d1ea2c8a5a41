"""GET /metrics: scraped during a broadcast it shows the counts the API shows; its own port and
bearer token when set; one registry per app; the store's gauges cached between scrapes."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from pushgate.app import create_app
from pushgate.metrics import Metrics
from pushgate.metrics.gauges import StoreGauges
from pushgate.store import open_store
from pushgate.store.models import NewSubscription
from pushgate.testing import Fault, LocalPushService
from pushgate.webpush.responses import Verdict
from tests.api.asgi import BASE_URL, handler_settings
from tests.conftest import ORIGIN, Site, free_port, subscribe_all

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
SLOW_SECONDS = 6.0  # a few answers held this long keep the broadcast sending while we scrape


def samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(scraped: Samples, name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def messages(scraped: Samples, outcome: str) -> float:
    return value(scraped, "pushgate_messages_total", push_service="other", outcome=outcome)


async def _counts_reach(
    client: httpx.AsyncClient, site: Site, url: str, want: dict[str, int]
) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = (await client.get(url, headers=site.admin_headers)).json()
        if all(status["counts"][k] == v for k, v in want.items()):
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"counts never reached {want}: {status}")


async def test_metrics_scraped_during_a_broadcast_show_the_counts_the_api_shows(
    push_service: LocalPushService, site: Site, client: httpx.AsyncClient
) -> None:
    fast, gone, failing, retried, slow = (
        [push_service.new_browser() for _ in range(n)] for n in (200, 20, 10, 3, 5)
    )
    await subscribe_all(client, site, [*fast, *gone, *failing, *retried, *slow])
    for browser in gone:
        push_service.unsubscribe(browser)
    for browser in failing:
        push_service.inject(Fault(status=403, endpoint_id=browser.id))
    for browser in retried:
        push_service.inject(Fault(status=429, times=1, retry_after="1", endpoint_id=browser.id))
    for browser in slow:
        push_service.inject(Fault(status=201, delay=SLOW_SECONDS, endpoint_id=browser.id))

    created = await client.post(
        "/api/v1/notifications", json={"title": "t"}, headers=site.admin_headers
    )
    url = f"/api/v1/notifications/{created.json()['id']}"
    during = await _counts_reach(client, site, url, {"accepted": 203, "gone": 20, "failed": 10})
    scraped = samples((await client.get("/metrics")).text)
    assert during["status"] == "sending"  # the slow five are still out
    assert messages(scraped, "accepted") == during["counts"]["accepted"]
    assert messages(scraped, "gone") == during["counts"]["gone"]
    assert messages(scraped, "failed") == during["counts"]["failed"]
    assert messages(scraped, "retried") == 3
    assert value(scraped, "pushgate_retries_total", push_service="other") == 3
    assert value(scraped, "pushgate_subscriptions", site=site.id) == 218  # the gone removed
    assert value(scraped, "pushgate_notifications", status="sending") == 1
    assert value(scraped, "pushgate_deliveries_pending") == 5
    assert value(scraped, "pushgate_send_workers", state="running") >= 1
    assert value(scraped, "pushgate_send_workers_healthy") == 1

    done = await _counts_reach(client, site, url, {"accepted": 208})
    scraped = samples((await client.get("/metrics")).text)
    assert done["counts"]["targeted"] == 238
    for outcome in ("accepted", "gone", "failed"):
        assert messages(scraped, outcome) == done["counts"][outcome], outcome
    answers = 200 + 20 + 10 + 2 * 3 + 5  # the retried answered twice
    latency = "pushgate_push_service_latency_seconds"
    assert value(scraped, f"{latency}_count", push_service="other") == answers
    assert value(scraped, f"{latency}_bucket", push_service="other", le="+Inf") == answers
    assert value(scraped, f"{latency}_bucket", push_service="other", le="2.5") == answers - 5
    assert value(scraped, f"{latency}_bucket", push_service="other", le="10.0") == answers
    assert value(scraped, f"{latency}_sum", push_service="other") >= 5 * SLOW_SECONDS


async def test_metrics_on_their_own_port_behind_a_token(
    gateway_factory: Any, push_service: LocalPushService
) -> None:
    port = free_port()
    gateway = gateway_factory(
        push_service.host_port,
        PUSHGATE_METRICS_PORT=str(port),
        PUSHGATE_METRICS_TOKEN="scrape-me-7f3a",
    )
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(f"{gateway.base_url}/metrics")).status_code == 404
        url = f"http://127.0.0.1:{port}/metrics"
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "scrape-me-7f3a"}):
            refused = await http.get(url, headers=headers)
            assert refused.status_code == 401, headers
            assert refused.json()["error"]["code"] == "unauthorized"
            assert refused.headers["www-authenticate"] == "Bearer"
        scraped = await http.get(url, headers={"Authorization": "Bearer scrape-me-7f3a"})
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "scrape-me" not in scraped.text
    assert value(samples(scraped.text), "pushgate_send_workers", state="configured") >= 1


async def test_a_token_on_the_main_port_is_required(tmp_path: Path) -> None:
    settings = replace(handler_settings(tmp_path), metrics_token="t0ken")
    async with open_store(settings) as store:
        app = create_app(settings, store=store, deliver=False)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
                assert (await http.get("/metrics")).status_code == 401
                ok = await http.get("/metrics", headers={"Authorization": "bearer t0ken"})
    assert ok.status_code == 200
    assert "pushgate_send_workers" not in ok.text  # no engine in this app: no worker gauges


def test_each_app_counts_in_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.delivery.accepted("fcm.googleapis.com", 3, 1)
    second.delivery.outcome("web.push.apple.com", Verdict.GONE, False)
    one, two = samples(_text(first)), samples(_text(second))
    assert value(one, "pushgate_messages_total", push_service="fcm", outcome="accepted") == 3
    assert value(one, "pushgate_retries_total", push_service="fcm") == 1
    assert value(two, "pushgate_messages_total", push_service="apple", outcome="gone") == 1
    assert value(two, "pushgate_messages_total", push_service="fcm", outcome="accepted") == 0


def _text(metrics: Metrics) -> str:
    return asyncio.run(metrics.exposition()).decode()


async def test_store_gauges_are_read_again_only_after_their_max_age(tmp_path: Path) -> None:
    now = [0.0]
    gauges = StoreGauges(max_age=10.0, clock=lambda: now[0])
    async with open_store(handler_settings(tmp_path)) as store:
        site, _ = await store.create_site("news", [ORIGIN])
        endpoint = "https://fcm.googleapis.com/fcm/send/"
        await store.add_subscriptions_bulk(site.id, [NewSubscription(endpoint + "a", "p", "a")])
        await gauges.refresh(store)
        await store.add_subscriptions_bulk(site.id, [NewSubscription(endpoint + "b", "p", "a")])
        now[0] = 9.0
        await gauges.refresh(store)
        cached = _subscriptions(gauges, site.id)
        now[0] = 10.5
        await gauges.refresh(store)
        assert (cached, _subscriptions(gauges, site.id)) == (1, 2)


def _subscriptions(gauges: StoreGauges, site_id: str) -> float:
    family = next(f for f in gauges.collect() if f.name == "pushgate_subscriptions")
    return next(s.value for s in family.samples if s.labels == {"site": site_id})
