"""What the engine does with push-service failures, and with its own crash."""

from __future__ import annotations

import asyncio
import time

import httpx

from pushgate.testing import Fault, LocalPushService
from tests.conftest import (
    OVER_HTTP1_AND_HTTP2,
    Gateway,
    Site,
    assert_every_push_came_over,
    subscribe_all,
    wait_until_done,
)


async def _broadcast(client: httpx.AsyncClient, site: Site, **body: object) -> str:
    answer = await client.post(
        "/api/v1/notifications", json={"title": "t", **body}, headers=site.admin_headers
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


@OVER_HTTP1_AND_HTTP2
async def test_gone_subscriber_is_removed_and_not_targeted_again(
    push_service: LocalPushService,
    site: Site,
    client: httpx.AsyncClient,
    push_protocol: str | None,
) -> None:
    kept, gone = push_service.new_browser(), push_service.new_browser()
    _, gone_id = await subscribe_all(client, site, [kept, gone])
    push_service.unsubscribe(gone)

    status = await wait_until_done(client, site, await _broadcast(client, site))
    assert (status["counts"]["accepted"], status["counts"]["gone"]) == (1, 1)
    listing = (await client.get("/api/v1/subscriptions", headers=site.admin_headers)).json()
    assert gone_id not in [s["id"] for s in listing["data"]] and len(listing["data"]) == 1

    second = await wait_until_done(client, site, await _broadcast(client, site))
    assert second["counts"]["targeted"] == 1
    assert len([r for r in push_service.requests if r.endpoint_id == gone.id]) == 1
    assert_every_push_came_over(push_service, push_protocol)


@OVER_HTTP1_AND_HTTP2
async def test_404_counts_as_gone(
    push_service: LocalPushService,
    site: Site,
    client: httpx.AsyncClient,
    push_protocol: str | None,
) -> None:
    browser = push_service.new_browser()
    await subscribe_all(client, site, [browser])
    push_service.inject(Fault(status=404, endpoint_id=browser.id))
    status = await wait_until_done(client, site, await _broadcast(client, site))
    assert status["counts"]["gone"] == 1 and status["counts"]["targeted"] == 1
    assert_every_push_came_over(push_service, push_protocol)


@OVER_HTTP1_AND_HTTP2
async def test_rate_limit_with_retry_after_is_honoured_then_delivered(
    push_service: LocalPushService,
    site: Site,
    client: httpx.AsyncClient,
    push_protocol: str | None,
) -> None:
    browser = push_service.new_browser()
    await subscribe_all(client, site, [browser])
    push_service.inject(Fault(status=429, times=1, retry_after="2"))

    status = await wait_until_done(client, site, await _broadcast(client, site))
    assert status["counts"]["accepted"] == 1
    attempts = [r for r in push_service.requests if r.endpoint_id == browser.id]
    assert [r.status for r in attempts] == [429, 201]
    assert attempts[1].received_at - attempts[0].received_at >= 2.0
    assert len(browser.messages) == 1
    assert_every_push_came_over(push_service, push_protocol)


async def test_rate_limit_with_http_date_retry_after_is_honoured(
    push_service: LocalPushService, site: Site, client: httpx.AsyncClient
) -> None:
    browser = push_service.new_browser()
    await subscribe_all(client, site, [browser])
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 3))
    push_service.inject(Fault(status=503, times=1, retry_after=when))
    await wait_until_done(client, site, await _broadcast(client, site))
    attempts = [r for r in push_service.requests if r.endpoint_id == browser.id]
    assert [r.status for r in attempts] == [503, 201]
    assert attempts[1].received_at - attempts[0].received_at >= 1.5


async def test_server_errors_are_retried_with_backoff_then_delivered(
    push_service: LocalPushService, site: Site, client: httpx.AsyncClient
) -> None:
    browsers = [push_service.new_browser() for _ in range(5)]
    await subscribe_all(client, site, browsers)
    push_service.inject(Fault(status=502, times=10))
    status = await wait_until_done(client, site, await _broadcast(client, site))
    assert status["counts"]["accepted"] == 5 and status["counts"]["pending"] == 0
    assert sorted(r.status for r in push_service.requests).count(502) == 10
    assert [len(b.messages) for b in browsers] == [1] * 5


async def test_unauthorized_answer_fails_with_the_reason_kept(
    push_service: LocalPushService, site: Site, client: httpx.AsyncClient
) -> None:
    await subscribe_all(client, site, [push_service.new_browser()])
    push_service.inject(Fault(status=403))
    status = await wait_until_done(client, site, await _broadcast(client, site))
    assert status["counts"]["failed"] == 1 and status["counts"]["accepted"] == 0


async def test_retries_stop_when_the_ttl_runs_out(
    push_service: LocalPushService, site: Site, client: httpx.AsyncClient
) -> None:
    await subscribe_all(client, site, [push_service.new_browser()])
    push_service.inject(Fault(status=500))
    status = await wait_until_done(client, site, await _broadcast(client, site, ttl=2), timeout=20)
    assert status["counts"]["failed"] == 1 and status["counts"]["pending"] == 0
    assert 1 <= len(push_service.requests) <= 4


async def test_same_idempotency_key_sends_once(
    push_service: LocalPushService, site: Site, client: httpx.AsyncClient
) -> None:
    browser = push_service.new_browser()
    await subscribe_all(client, site, [browser])
    headers = site.admin_headers | {"Idempotency-Key": "order-1234-shipped"}
    body = {"title": "Your order shipped"}
    first = await client.post("/api/v1/notifications", json=body, headers=headers)
    second = await client.post("/api/v1/notifications", json=body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    conflict = await client.post("/api/v1/notifications", json={"title": "other"}, headers=headers)
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "idempotency_conflict"
    await wait_until_done(client, site, first.json()["id"])
    await asyncio.sleep(0.5)
    assert len(browser.messages) == 1


async def test_gateway_killed_mid_broadcast_resumes_without_resending_accepted(
    push_service: LocalPushService, gateway_factory
) -> None:
    # A slow push service and few connections stretch the broadcast over several seconds.
    gateway: Gateway = gateway_factory(push_service.host_port, PUSHGATE_MAX_IN_FLIGHT_PER_HOST="10")
    created = gateway.create_site()
    site = Site(created["id"], created["api_key"], created["vapid_public_key"], gateway)
    client = httpx.AsyncClient(base_url=gateway.base_url, timeout=30)
    browsers = [push_service.new_browser() for _ in range(1500)]
    await subscribe_all(client, site, browsers)
    push_service.inject(Fault(status=201, delay=0.02))

    notification_id = await _broadcast(client, site)
    await push_service.wait_for_total(300, timeout=30)
    gateway.kill()
    received_at_kill = len(push_service.received)
    assert received_at_kill < 1500, "the broadcast finished before the kill; slow it down"
    gateway.start()
    status = await wait_until_done(client, site, notification_id, timeout=120)
    await client.aclose()

    assert status["counts"]["accepted"] == 1500 and status["counts"]["pending"] == 0
    copies = [len(b.messages) for b in browsers]
    assert min(copies) == 1
    # Only messages in flight or not yet recorded at the kill may arrive twice.
    assert sum(copies) - 1500 <= 200, f"{sum(copies) - 1500} second copies"


async def test_an_outcome_recorded_twice_for_one_delivery_counts_once(tmp_path) -> None:
    from pushgate.store import open_store
    from pushgate.store.models import Audience, DeliveryResult, NewNotification, NewSubscription
    from tests.api.test_subscriptions import VALID_P256DH

    async with open_store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        site, _ = await store.create_site("s", ["https://a.example"])
        key = VALID_P256DH
        await store.add_subscriptions_bulk(
            site.id,
            [NewSubscription(f"https://fcm.googleapis.com/x/{i}", key, "A" * 22) for i in range(3)],
        )
        notification, _ = await store.create_notification(
            site.id, NewNotification({"title": "t"}, Audience(everyone=True), 60)
        )
        targets = await store.expand_audience(notification, 10, 0)
        first = [
            DeliveryResult(t.notification_key, t.subscription_key, "accepted", 201) for t in targets
        ]
        await store.record_results(first + first[:1])  # a duplicate inside one batch
        await store.record_results(first[1:])  # and again in a later batch
        counts = (await store.get_notification(site.id, notification.id)).counts
        assert (counts.targeted, counts.accepted, counts.pending) == (3, 3, 0)


async def test_accepted_keys_recorded_twice_count_once(tmp_path) -> None:
    from pushgate.store import open_store
    from pushgate.store.models import Audience, DeliveryResult, NewNotification, NewSubscription
    from tests.api.test_subscriptions import VALID_P256DH

    async with open_store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        site, _ = await store.create_site("s", ["https://a.example"])
        await store.add_subscriptions_bulk(
            site.id,
            [
                NewSubscription(f"https://fcm.googleapis.com/x/{i}", VALID_P256DH, "A" * 22)
                for i in range(4)
            ],
        )
        notification, _ = await store.create_notification(
            site.id, NewNotification({"title": "t"}, Audience(everyone=True), 60)
        )
        keys = [t.subscription_key for t in await store.expand_audience(notification, 10, 0)]
        gone = DeliveryResult(notification.key, keys[3], "gone", 410, "unsubscribed")
        await store.record_results([gone])
        await store.record_accepted(notification.key, keys, 201)  # the gone one stays gone
        await store.record_accepted(notification.key, keys[:2], 201)  # a second report
        counts = (await store.get_notification(site.id, notification.id)).counts
        assert (counts.targeted, counts.accepted, counts.gone, counts.pending) == (4, 3, 1, 0)
