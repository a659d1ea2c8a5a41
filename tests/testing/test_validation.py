"""Each rule autopush applies to `POST /push/{id}` answers its status, in autopush's JSON."""

import time

import pytest

from pushgate.testing import LocalPushService
from pushgate.webpush.vapid import VapidKeyPair, VapidSigner, generate_key_pair
from tests.testing.pushing import SUBJECT, Pusher, sign_authorization


def _claims(service: LocalPushService, **changes: object) -> dict:
    return {"aud": service.base_url, "exp": int(time.time()) + 3600, "sub": SUBJECT, **changes}


async def _answer_with_authorization(
    service: LocalPushService, push: Pusher, authorization: str | None
) -> tuple[int, dict]:
    browser = service.new_browser()
    answer = await push.encrypted(browser, b"hi", {"Authorization": authorization})
    return answer.status, answer.json() if answer.status != 201 else {}


async def test_unauthorized_answer_has_autopush_error_shape(
    service: LocalPushService, push: Pusher
):
    status, body = await _answer_with_authorization(service, push, None)
    assert status == 401
    assert body["code"] == 401 and body["errno"] == 109 and body["error"] == "Unauthorized"
    assert body["message"] == "missing Authorization header"
    assert service.received == []


async def test_jwt_signed_by_another_key_than_k_answers_401(
    service: LocalPushService, push: Pusher, vapid_keys: VapidKeyPair
):
    other = generate_key_pair()
    token = sign_authorization(other, _claims(service)).split(",k=")[0]
    status, body = await _answer_with_authorization(
        service, push, f"{token},k={vapid_keys.public_key}"
    )
    assert status == 401 and "signature" in body["message"]


async def test_jwt_with_tampered_claims_answers_401(
    service: LocalPushService, push: Pusher, vapid_keys: VapidKeyPair
):
    header, _, signature = sign_authorization(vapid_keys, _claims(service)).split(".")
    forged_claims = sign_authorization(
        vapid_keys, _claims(service, sub="mailto:evil@example.com")
    ).split(".")[1]
    status, body = await _answer_with_authorization(
        service, push, f"{header}.{forged_claims}.{signature}"
    )
    assert status == 401 and "signature" in body["message"]


async def test_jwt_for_another_audience_answers_401(
    service: LocalPushService, push: Pusher, signer: VapidSigner
):
    wrong = signer.authorization("http://127.0.0.1:1/push/elsewhere")
    status, body = await _answer_with_authorization(service, push, wrong)
    assert status == 401 and "aud" in body["message"]


async def test_jwt_expiring_more_than_24_hours_ahead_answers_401(
    service: LocalPushService, push: Pusher, vapid_keys: VapidKeyPair
):
    # VapidSigner signs exp = clock + 12 h, so a clock 13 h ahead gives exp = now + 25 h.
    ahead = VapidSigner(vapid_keys, SUBJECT, clock=lambda: time.time() + 13 * 3600)
    status, body = await _answer_with_authorization(
        service, push, ahead.authorization(service.base_url)
    )
    assert status == 401 and "24 hours" in body["message"]


async def test_expired_jwt_answers_401(
    service: LocalPushService, push: Pusher, vapid_keys: VapidKeyPair
):
    behind = VapidSigner(vapid_keys, SUBJECT, clock=lambda: time.time() - 13 * 3600)
    status, body = await _answer_with_authorization(
        service, push, behind.authorization(service.base_url)
    )
    assert status == 401 and "expired" in body["message"]


@pytest.mark.parametrize(
    "changes",
    [{"sub": "ops@example.com"}, {"sub": None}, {"exp": None}, {"exp": "tomorrow"}],
    ids=["sub-not-a-url", "sub-missing", "exp-missing", "exp-not-a-number"],
)
async def test_jwt_with_bad_claims_answers_401(
    service: LocalPushService, push: Pusher, vapid_keys: VapidKeyPair, changes: dict
):
    claims = {k: v for k, v in _claims(service, **changes).items() if v is not None}
    status, _ = await _answer_with_authorization(
        service, push, sign_authorization(vapid_keys, claims)
    )
    assert status == 401


@pytest.mark.parametrize(
    "authorization",
    ["WebPush abc.def.ghi", "vapid t=abc", "vapid k=BAAA", "vapid t=not.a.jwt,k=BAAA"],
)
async def test_malformed_authorization_answers_401(
    service: LocalPushService, push: Pusher, authorization: str
):
    status, body = await _answer_with_authorization(service, push, authorization)
    assert status == 401 and body["errno"] == 109


async def test_https_subject_is_accepted(
    service: LocalPushService, push: Pusher, vapid_keys: VapidKeyPair
):
    claims = _claims(service, sub="https://example.com/contact")
    status, _ = await _answer_with_authorization(
        service, push, sign_authorization(vapid_keys, claims)
    )
    assert status == 201


@pytest.mark.parametrize(
    ("overrides", "errno"),
    [
        ({"TTL": None}, 111),
        ({"TTL": "-1"}, 112),
        ({"TTL": "1.5"}, 112),
        ({"TTL": "soon"}, 112),
        ({"Content-Encoding": "aesgcm"}, 110),
        ({"Content-Encoding": None}, 110),
        ({"Topic": "a" * 33}, 113),
        ({"Topic": "has space"}, 113),
        ({"Topic": "plus+slash/"}, 113),
        ({"Urgency": "urgent"}, 114),
    ],
    ids=[
        "ttl-missing",
        "ttl-negative",
        "ttl-fraction",
        "ttl-word",
        "encoding-aesgcm",
        "encoding-missing",
        "topic-33-chars",
        "topic-space",
        "topic-not-base64url",
        "urgency-unknown",
    ],
)
async def test_bad_header_answers_400_with_its_errno(
    service: LocalPushService, push: Pusher, overrides: dict, errno: int
):
    browser = service.new_browser()
    answer = await push.encrypted(browser, b"hi", overrides)
    assert answer.status == 400 and answer.json()["errno"] == errno
    assert browser.messages == []


async def test_topic_of_32_base64url_chars_is_accepted(service: LocalPushService, push: Pusher):
    browser = service.new_browser()
    topic = "aZ09_-" * 5 + "xy"
    assert (await push.encrypted(browser, b"hi", {"Topic": topic})).status == 201
    assert browser.messages[0].headers["Topic"] == topic


async def test_body_of_4097_bytes_answers_413(service: LocalPushService, push: Pusher):
    browser = service.new_browser()
    answer = await push.raw(browser.endpoint, b"\0" * 4097)
    assert answer.status == 413 and answer.json()["errno"] == 104
    assert browser.messages == []


async def test_unknown_endpoint_answers_404(service: LocalPushService, push: Pusher):
    answer = await push.raw(f"{service.base_url}/push/nobody", b"\0" * 100)
    assert answer.status == 404 and answer.json()["errno"] == 102


async def test_unsubscribed_browser_answers_410(service: LocalPushService, push: Pusher):
    browser = service.new_browser()
    assert (await push.encrypted(browser, b"before")).status == 201
    service.unsubscribe(browser)
    answer = await push.encrypted(browser, b"after")
    assert answer.status == 410 and answer.json()["code"] == 410
    assert [m.plaintext for m in browser.messages] == [b"before"]
