import asyncio
import os
import time

from pushgate.testing import LocalPushService
from pushgate.webpush.b64 import b64url_decode
from pushgate.webpush.encryption import MAX_PLAINTEXT_BYTES, encrypt
from pushgate.webpush.vapid import VapidKeyPair, VapidSigner, generate_key_pair
from tests.testing.pushing import SUBJECT, Pusher, sign_authorization


async def test_start_port_zero_picks_a_free_port_and_urls_follow_it(service: LocalPushService):
    assert service.port > 0
    assert service.host_port == f"127.0.0.1:{service.port}"
    assert service.base_url == f"http://127.0.0.1:{service.port}"
    assert service.ws_url == f"ws://127.0.0.1:{service.port}/"


async def test_new_browser_subscription_has_endpoint_and_keys_of_the_right_sizes(
    service: LocalPushService,
):
    browser = service.new_browser()
    sub = browser.subscription()
    assert sub["endpoint"] == f"{service.base_url}/push/{browser.id}" == browser.endpoint
    assert sub["expirationTime"] is None
    assert len(b64url_decode(sub["keys"]["p256dh"])) == 65
    assert len(b64url_decode(sub["keys"]["auth"])) == 16
    assert "=" not in sub["keys"]["p256dh"] + sub["keys"]["auth"]


async def test_valid_push_is_accepted_201_and_decrypts_byte_for_byte(
    service: LocalPushService, push: Pusher, vapid_keys: VapidKeyPair
):
    browser = service.new_browser()
    plaintext = os.urandom(200)
    answer = await push.encrypted(browser, plaintext, {"Topic": "news", "Urgency": "high"})
    assert answer.status == 201
    message = browser.messages[0]
    assert answer.headers["Location"] == f"/m/{message.message_id}"
    assert message.plaintext == plaintext and message.decrypt_error is None
    assert message.endpoint_id == browser.id
    assert message.headers["TTL"] == "60" and message.headers["Topic"] == "news"
    assert message.headers["Urgency"] == "high"
    assert message.headers["Content-Encoding"] == "aes128gcm"
    assert message.headers["Authorization"].startswith("vapid t=")
    assert message.vapid_public_key == vapid_keys.public_key
    assert message.vapid_claims["aud"] == service.base_url
    assert message.vapid_claims["sub"] == SUBJECT
    assert service.received == [message]


async def test_largest_payload_4096_bytes_is_accepted_and_decrypts(
    service: LocalPushService, push: Pusher
):
    browser = service.new_browser()
    plaintext = b"x" * MAX_PLAINTEXT_BYTES
    assert (await push.encrypted(browser, plaintext)).status == 201
    assert browser.messages[0].plaintext == plaintext


async def test_json_payload_parses_with_message_json(service: LocalPushService, push: Pusher):
    browser = service.new_browser()
    await push.encrypted(browser, b'{"title": "Hi", "n": 2}')
    assert browser.messages[0].json() == {"title": "Hi", "n": 2}


async def test_body_encrypted_for_another_key_is_accepted_but_marked_decrypt_error(
    service: LocalPushService, push: Pusher
):
    browser, other = service.new_browser(), service.new_browser()
    body = encrypt(b"secret", other.p256dh, other.auth)
    assert (await push.raw(browser.endpoint, body)).status == 201
    message = browser.messages[0]
    assert message.decrypt_error and message.plaintext == b""


async def test_push_without_payload_is_accepted_with_empty_plaintext(
    service: LocalPushService, push: Pusher
):
    browser = service.new_browser()
    answer = await push.raw(browser.endpoint, b"", {"Content-Encoding": None})
    assert answer.status == 201
    assert browser.messages[0].plaintext == b"" and browser.messages[0].decrypt_error is None


async def test_authorization_with_space_after_comma_is_accepted(
    service: LocalPushService, push: Pusher, signer: VapidSigner
):
    browser = service.new_browser()
    spaced = signer.authorization(browser.endpoint).replace(",k=", ", k=")
    assert ", k=" in spaced
    assert (await push.encrypted(browser, b"hi", {"Authorization": spaced})).status == 201


async def test_huge_ttl_is_capped_at_60_days_in_the_answer(service: LocalPushService, push: Pusher):
    browser = service.new_browser()
    answer = await push.encrypted(browser, b"hi", {"TTL": str(10**9)})
    assert answer.status == 201 and answer.headers["TTL"] == str(60 * 24 * 3600)


async def test_requests_records_every_request_with_its_status(
    service: LocalPushService, push: Pusher
):
    browser = service.new_browser()
    await push.encrypted(browser, b"ok")
    await push.encrypted(browser, b"no ttl", {"TTL": None})
    assert [r.status for r in service.requests] == [201, 400]
    assert service.requests[1].error == "Missing TTL header"
    assert service.requests[0].headers["ttl"] == "60"  # looked up case-insensitively
    assert len(service.received) == 1


async def test_browser_wait_for_returns_once_n_messages_arrived(
    service: LocalPushService, push: Pusher
):
    browser = service.new_browser()
    waiter = asyncio.create_task(browser.wait_for(2, timeout=5))
    await push.encrypted(browser, b"one")
    await asyncio.sleep(0)
    assert not waiter.done()
    await push.encrypted(browser, b"two")
    messages = await waiter
    assert [m.plaintext for m in messages] == [b"one", b"two"]


async def test_browser_wait_for_too_few_messages_raises_timeout_saying_how_many(
    service: LocalPushService,
):
    browser = service.new_browser()
    try:
        await browser.wait_for(1, timeout=0.05)
    except TimeoutError as exc:
        assert "0 of 1" in str(exc)
    else:
        raise AssertionError("wait_for did not time out")


async def test_restricted_browser_refuses_push_signed_by_another_key_401(
    service: LocalPushService, push: Pusher, vapid_keys: VapidKeyPair, http
):
    browser = service.new_browser(application_server_key=vapid_keys.public_key)
    assert (await push.encrypted(browser, b"mine")).status == 201
    stranger = Pusher(http, VapidSigner(generate_key_pair(), SUBJECT))
    answer = await stranger.encrypted(browser, b"theirs")
    assert answer.status == 401 and answer.json()["errno"] == 109
    assert [m.plaintext for m in browser.messages] == [b"mine"]


async def test_thousand_browsers_pushed_concurrently_all_receive_and_decrypt(
    service: LocalPushService, push: Pusher
):
    browsers = [service.new_browser() for _ in range(1000)]
    answers = await asyncio.gather(
        *(push.encrypted(b, f"msg {i}".encode()) for i, b in enumerate(browsers))
    )
    assert {a.status for a in answers} == {201}
    await service.wait_for_total(1000, timeout=30)
    assert all(m.decrypt_error is None for m in service.received)
    assert [b.messages[0].plaintext for b in browsers] == [f"msg {i}".encode() for i in range(1000)]


async def test_service_on_ipv6_loopback_brackets_host_in_urls_and_accepts_pushes(
    vapid_keys: VapidKeyPair, http
):
    # Loopback ::1 exists on every machine this project runs on (and CI's): no skip.
    service = LocalPushService(host="::1")
    await service.start()
    try:
        assert service.base_url == f"http://[::1]:{service.port}"
        assert service.host_port == f"[::1]:{service.port}"
        browser = service.new_browser()
        claims = {"aud": service.base_url, "exp": int(time.time()) + 600, "sub": SUBJECT}
        authorization = sign_authorization(vapid_keys, claims)
        answer = await Pusher(http, VapidSigner(vapid_keys, SUBJECT)).encrypted(
            browser, b"v6", {"Authorization": authorization}
        )
        assert answer.status == 201
        assert browser.messages[0].vapid_claims["aud"] == service.base_url
    finally:
        await service.stop()
