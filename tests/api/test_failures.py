"""GET /api/v1/notifications/{id}/failures: failed and gone deliveries grouped by push service,
status and reason, each explained; the site's own notifications only."""

from __future__ import annotations

from pathlib import Path

from pushgate.api.failures import RAN_OUT_NOTE
from pushgate.store import Store
from pushgate.store.models import Audience, DeliveryResult, NewNotification, NewSubscription
from pushgate.webpush.quirks import QUIRKS, explain
from tests.api.asgi import in_process
from tests.conftest import ORIGIN

NOW = 1_800_000_000.0
FCM = "https://fcm.googleapis.com/fcm/send/"
MOZILLA = "https://updates.push.services.mozilla.com/wpush/v2/"
EXPLAINED = {q.code: q.explanation for q in QUIRKS}


async def _notification(store: Store, site_id: str, endpoints: list[str]) -> tuple[str, list[int]]:
    subs = [NewSubscription(endpoint, "p", "a") for endpoint in endpoints]
    await store.add_subscriptions_bulk(site_id, subs)
    new = NewNotification({"title": "t"}, Audience(everyone=True), 3600)
    n, _ = await store.create_notification(site_id, new, now=NOW)
    keys = [t.subscription_key for t in await store.expand_audience(n, 100, NOW + 60)]
    return n.id, keys


async def test_failures_are_grouped_and_explained(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app:
        endpoints = [f"{FCM}{i}" for i in range(5)] + [f"{MOZILLA}{i}" for i in range(3)]
        notification_id, keys = await _notification(app.store, app.site_id, endpoints)
        n = await app.store.get_notification(app.site_id, notification_id)
        assert n is not None
        await app.store.record_results(
            [
                DeliveryResult(n.key, keys[0], "failed", 403, "fcm: VAPID key mismatch"),
                DeliveryResult(n.key, keys[1], "failed", 403, "fcm: VAPID key mismatch"),
                DeliveryResult(n.key, keys[2], "gone", 410, "fcm: NotRegistered"),
                DeliveryResult(n.key, keys[3], "failed", 503, "TTL ran out: fcm: unavailable"),
                DeliveryResult(n.key, keys[4], "failed", 0, "TimeoutError: no answer in 10 s"),
                DeliveryResult(n.key, keys[5], "gone", 410, "mozilla: errno 103/105/106"),
                DeliveryResult(n.key, keys[6], "failed", 400, 'mozilla: {"errno": 999}'),
            ],
            NOW,
        )
        answer = await app.client.get(
            f"/api/v1/notifications/{notification_id}/failures", headers=app.admin_headers
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"] == [
        _group("fcm", 403, "VAPID key mismatch", 2, EXPLAINED["VAPID key mismatch"]),
        _group("fcm", 410, "NotRegistered", 1, EXPLAINED["NotRegistered"]),
        _group("fcm", 503, "TTL ran out: unavailable", 1, EXPLAINED["unavailable"] + RAN_OUT_NOTE),
        # A timeout names no push service: the subscription, still stored, does.
        _group("fcm", 0, "TimeoutError: no answer in 10 s", 1, explain(0, "")),
        _group("mozilla", 410, "errno 103/105/106", 1, EXPLAINED["errno 103/105/106"]),
        _group("mozilla", 400, '{"errno": 999}', 1, explain(400, "")),
    ]


def _group(service: str, status: int, reason: str, count: int, explanation: str) -> dict:
    return {"push_service": service, "status": status, "reason": reason, "count": count,
            "explanation": explanation}  # fmt: skip


async def test_a_notification_without_failures_has_none(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app:
        notification_id, _ = await _notification(app.store, app.site_id, [f"{FCM}1"])
        answer = await app.client.get(
            f"/api/v1/notifications/{notification_id}/failures", headers=app.admin_headers
        )
    assert (answer.status_code, answer.json()) == (200, {"data": []})


async def test_another_sites_notification_is_not_found(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app:
        other, other_key = await app.store.create_site("other", [ORIGIN])
        notification_id, _ = await _notification(app.store, other.id, [f"{FCM}1"])
        url = f"/api/v1/notifications/{notification_id}/failures"
        mine = await app.client.get(url, headers=app.admin_headers)
        theirs = await app.client.get(url, headers={"Authorization": f"Bearer {other_key}"})
        anonymous = await app.client.get(url)
    assert (mine.status_code, mine.json()["error"]["code"]) == (404, "not_found")
    assert theirs.status_code == 200
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "unauthorized")
