"""The quirk table, row by row: the local push service answers as each push service does, the
gateway acts as the row says (removes, fails, or retries after Retry-After), and
/api/v1/notifications/{id}/failures explains it. Then the table's own rules, without a network.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from pushgate.api.failures import RAN_OUT_NOTE
from pushgate.testing import Fault, LocalPushService
from pushgate.webpush.quirks import (
    QUIRKS,
    classify_answer,
    explain,
    find_quirk,
    parse_reason,
)
from pushgate.webpush.responses import Verdict
from tests.conftest import Site, subscribe_all, wait_until_done

TTL_SECONDS = 4
# Retried rows advise waiting longer than the TTL: their retry would come too late, so they
# fail at once as "TTL ran out" (the same answers once only, with Retry-After: 1, show the
# advice honoured and the message delivered).
RETRY_AFTER = "10"


def _autopush(status: int, errno: int, message: str) -> dict[str, Any]:
    body = {"code": status, "errno": errno, "error": "Error", "message": message,
            "more_info": "https://mozilla-services.github.io/autopush-rs/errors.html"}  # fmt: skip
    return {"status": status, "body": json.dumps(body)}


def _apple(status: int, reason: str) -> dict[str, Any]:
    return {"status": status, "body": json.dumps({"reason": reason}),
            "headers": {"apns-id": "5F1AA5A3-F5B4-4F8C-9F08-0C8B3FF1D1C0"}}  # fmt: skip


# What each push service answers, as the row's test makes the local push service answer:
# one or more answers per row (each to its own subscriber).
ANSWERS: dict[str, list[dict[str, Any]]] = {
    "BadJwtToken": [_apple(403, "BadJwtToken")],
    "BadWebPushTopic": [_apple(400, "BadWebPushTopic")],
    "VapidPkHashMismatch": [_apple(400, "VapidPkHashMismatch")],
    "appthrottled": [
        {"status": 406, "retry_after": RETRY_AFTER, "headers": {"X-WNS-Status": "appthrottled"}}
    ],
    "TTL conflicts with cache policy": [
        {
            "status": 400,
            "headers": {
                "X-WNS-Status": "dropped",
                "X-WNS-Error-Description": "TTL conflicts with cache policy",
            },
        }
    ],  # fmt: skip
    "old /fcm/send endpoint": [
        {
            "status": 404,
            "body": "A valid push subscription endpoint should be specified in the "
            "URL as such: https://fcm.googleapis.com/wp/dHIoDxE7Hdg:APA91b",
        }
    ],  # fmt: skip
    "VAPID key mismatch": [
        {
            "status": 403,
            "body": "the key in the authorization header does not correspond to "
            "the sender ID used to subscribe this user. Please ensure you are "
            "using the correct sender ID and server Key from the Firebase "
            "console.\n",
        }
    ],  # fmt: skip
    "NotRegistered": [
        {"status": 410, "body": "NotRegistered"},
        {"status": 410, "body": "push subscription has unsubscribed or expired.\n"},
    ],
    "errno 102": [_autopush(404, 102, "Invalid URL endpoint")],
    "errno 103/105/106": [
        _autopush(410, 103, "Expired URL endpoint"),
        _autopush(410, 105, "Endpoint became unavailable during request"),
        _autopush(410, 106, "Invalid subscription"),
    ],
    "errno 104": [_autopush(413, 104, "Data payload too large")],
    "errno 109": [_autopush(401, 109, "Invalid authentication")],
    "errno 110": [_autopush(400, 110, "Invalid crypto keys specified")],
    "errno 111": [_autopush(400, 111, "Missing TTL header")],
    "errno 113": [_autopush(400, 113, "Invalid Topic header value")],
    "unavailable": [{"status": 503, "retry_after": RETRY_AFTER, "body": ""}],
    "rate limited": [{"status": 429, "retry_after": RETRY_AFTER, "body": ""}],
}


def test_every_row_has_an_answer_to_test_it_with() -> None:
    assert sorted(ANSWERS) == sorted(q.code for q in QUIRKS)


async def test_each_row_is_acted_on_and_explained_end_to_end(
    push_service: LocalPushService, site: Site, client: httpx.AsyncClient
) -> None:
    fine = push_service.new_browser()
    answering = {code: [push_service.new_browser() for _ in answers]
                 for code, answers in ANSWERS.items()}  # fmt: skip
    retried = {q.code: push_service.new_browser() for q in QUIRKS if q.verdict is Verdict.RETRY}
    everyone = [fine, *retried.values(), *(b for bs in answering.values() for b in bs)]
    await subscribe_all(client, site, everyone)
    for code, answers in ANSWERS.items():
        for browser, answer in zip(answering[code], answers, strict=True):
            push_service.inject(Fault(endpoint_id=browser.id, **answer))
    for code, browser in retried.items():
        once = ANSWERS[code][0] | {"retry_after": "1", "times": 1}
        push_service.inject(Fault(endpoint_id=browser.id, **once))

    created = await client.post(
        "/api/v1/notifications", json={"title": "t", "ttl": TTL_SECONDS},
        headers=site.admin_headers,
    )  # fmt: skip
    status = await wait_until_done(client, site, created.json()["id"], timeout=30)
    failures = await client.get(
        f"/api/v1/notifications/{created.json()['id']}/failures", headers=site.admin_headers
    )
    assert failures.status_code == 200, failures.text
    groups = {g["reason"].removeprefix("TTL ran out: "): g for g in failures.json()["data"]}

    for quirk in QUIRKS:
        group = groups.pop(quirk.code, None)
        assert group is not None, f"{quirk.code}: not among the failures"
        expected = quirk.explanation + (RAN_OUT_NOTE if quirk.verdict is Verdict.RETRY else "")
        assert group == {
            "push_service": "other",  # a loopback host: known by its answer, not its name
            "status": quirk.status,
            "reason": ("TTL ran out: " if quirk.verdict is Verdict.RETRY else "") + quirk.code,
            "count": len(ANSWERS[quirk.code]),
            "explanation": expected,
        }, quirk.code
        _check_acted_on(push_service, quirk.verdict, answering[quirk.code])
    assert groups == {}
    for code, browser in retried.items():  # Retry-After: 1 honoured, then delivered
        times = [r.received_at for r in push_service.requests if r.endpoint_id == browser.id]
        assert len(times) == 2 and times[1] - times[0] >= 1.0, (code, times)
        assert len(browser.messages) == 1, code
    gone = sum(len(ANSWERS[q.code]) for q in QUIRKS if q.verdict is Verdict.GONE)
    counts = status["counts"]
    assert (counts["accepted"], counts["gone"]) == (1 + len(retried), gone)
    assert counts["failed"] == len(everyone) - 1 - len(retried) - gone
    listed = await client.get("/api/v1/subscriptions?limit=100", headers=site.admin_headers)
    assert len(listed.json()["data"]) == len(everyone) - gone  # the gone ones were removed


def _check_acted_on(service: LocalPushService, verdict: Verdict, browsers: list[Any]) -> None:
    """Sent once: removed or failed at once, or (retry) advised to wait beyond the TTL."""
    for browser in browsers:
        sent = [r for r in service.requests if r.endpoint_id == browser.id]
        assert len(sent) == 1, f"{verdict}: sent {len(sent)} times"


@pytest.mark.parametrize("quirk", QUIRKS, ids=[q.code for q in QUIRKS])
def test_a_rows_answer_from_its_own_push_service_is_classified_by_it(quirk: Any) -> None:
    service = "fcm" if quirk.service == "*" else quirk.service
    answer = ANSWERS[quirk.code][0]
    outcome = classify_answer(
        service, answer["status"], answer.get("retry_after"), answer.get("body", ""),
        {k.lower(): v for k, v in answer.get("headers", {}).items()},
    )  # fmt: skip
    assert (outcome.verdict, outcome.reason) == (quirk.verdict, f"{service}: {quirk.code}")
    if quirk.verdict is Verdict.RETRY:  # Retry-After, plus at most a second of jitter
        assert float(RETRY_AFTER) <= outcome.delay <= float(RETRY_AFTER) + 1


def test_a_row_of_one_push_service_does_not_explain_another_services_answer() -> None:
    body = json.dumps({"reason": "BadJwtToken"})
    assert find_quirk("apple", 403, body) is not None
    assert find_quirk("other", 403, body) is not None  # an unknown host: by the answer's shape
    assert find_quirk("fcm", 403, body) is None
    outcome = classify_answer("fcm", 403, None, body)
    assert (outcome.verdict, outcome.reason) == (Verdict.FAILED, f"fcm: {body}")


def test_an_unknown_answer_keeps_its_start_as_the_reason_and_a_status_explanation() -> None:
    outcome = classify_answer("mozilla", 400, None, "  something new  ")
    assert (outcome.verdict, outcome.reason) == (Verdict.FAILED, "mozilla: something new")
    assert classify_answer("wns", 500, None, "").reason == "wns: 500 Internal Server Error"
    assert explain(410, "whatever") == explain(404, "")
    assert explain(403, "BadJwtToken") != explain(400, "BadJwtToken")  # the status must match


def test_stored_reasons_are_read_back() -> None:
    assert parse_reason("apple: BadJwtToken") == ("apple", "BadJwtToken", False)
    assert parse_reason("TTL ran out: wns: appthrottled") == ("wns", "appthrottled", True)
    assert parse_reason("TimeoutError: no answer") == (None, "TimeoutError: no answer", False)
    assert parse_reason("expired") == (None, "expired", False)
