"""The local push service over TLS: ALPN offers h2 and HTTP/1.1 (or one of them), and HTTP/2
streams get the same validation, journal and faults as HTTP/1.1 requests."""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import AsyncIterator

import aiohttp
import pytest

from pushgate.testing import Fault, LocalPushService
from pushgate.webpush.encryption import encrypt
from tests.testing.h2client import H2Client
from tests.testing.pushing import Pusher

STREAMS = 150  # more than the 100 a connection may have open at once


@pytest.fixture
async def tls_service() -> AsyncIterator[LocalPushService]:
    async with LocalPushService(tls=True) as svc:
        yield svc


@pytest.fixture
async def h2(tls_service: LocalPushService) -> AsyncIterator[H2Client]:
    client = await H2Client.connect(tls_service)
    yield client
    await client.close()


def _trusting(service: LocalPushService, *alpn: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(service.ca_cert))
    context.set_alpn_protocols(list(alpn))
    return context


async def test_tls_service_urls_are_https_and_its_ca_goes_with_it() -> None:
    service = LocalPushService(tls=True)
    async with service:
        assert service.base_url == f"https://127.0.0.1:{service.port}"
        assert service.new_browser().endpoint.startswith(f"https://127.0.0.1:{service.port}/push/")
        assert service.ca_cert is not None and service.ca_cert.read_bytes().startswith(b"-----")
        ca_cert = service.ca_cert
    assert not ca_cert.exists()
    assert LocalPushService().ca_cert is None


async def test_push_over_h2_is_accepted_decrypted_and_journalled_as_h2(
    tls_service: LocalPushService, h2: H2Client, push: Pusher
) -> None:
    browser = tls_service.new_browser()
    plaintext = os.urandom(300)
    headers = push.headers(browser.endpoint, {"Topic": "news"})
    answer = await h2.post(
        browser.endpoint, headers, encrypt(plaintext, browser.p256dh, browser.auth)
    )

    assert answer.status == 201
    (message,) = browser.messages
    assert answer.headers["Location"] == f"/m/{message.message_id}"
    assert message.plaintext == plaintext and message.decrypt_error is None
    assert message.headers["Topic"] == "news" and message.headers["TTL"] == "60"
    assert message.vapid_claims["aud"] == tls_service.base_url
    (request,) = tls_service.requests
    assert (request.protocol, request.status, request.headers["ttl"]) == ("h2", 201, "60")


async def test_many_concurrent_streams_on_one_connection_each_decrypt(
    tls_service: LocalPushService, h2: H2Client, push: Pusher
) -> None:
    browsers = [tls_service.new_browser() for _ in range(STREAMS)]
    bodies = [os.urandom(3000) for _ in browsers]  # 450 KB in all: flow control must turn
    answers = await asyncio.gather(
        *(
            h2.post(b.endpoint, push.headers(b.endpoint), encrypt(body, b.p256dh, b.auth))
            for b, body in zip(browsers, bodies, strict=True)
        )
    )
    assert h2.max_concurrent_streams == 100
    assert [a.status for a in answers] == [201] * STREAMS
    assert [b.messages[0].plaintext for b in browsers] == bodies
    assert {r.protocol for r in tls_service.requests} == {"h2"}


async def test_invalid_push_over_h2_is_refused_as_over_http11(
    tls_service: LocalPushService, h2: H2Client, push: Pusher
) -> None:
    browser = tls_service.new_browser()
    headers = push.headers(browser.endpoint, {"TTL": None})
    answer = await h2.post(browser.endpoint, headers, encrypt(b"x", browser.p256dh, browser.auth))
    assert answer.status == 400 and answer.json()["errno"] == 111
    assert answer.headers["Content-Type"].startswith("application/json")
    assert browser.messages == []
    assert tls_service.requests[0].error is not None


@pytest.mark.parametrize(
    "overrides",
    [
        {"TTL": None},
        {"Content-Encoding": "aesgcm"},
        {"Topic": "t" * 33},
        {"Urgency": "urgent"},
        {"Authorization": "vapid t=x.y.z,k=abc"},
    ],
)
async def test_refusals_over_h2_are_the_ones_over_http11(
    tls_service: LocalPushService, h2: H2Client, push: Pusher, overrides: dict[str, str | None]
) -> None:
    browser = tls_service.new_browser()
    body = encrypt(b"x", browser.p256dh, browser.auth)
    over_h2 = await h2.post(browser.endpoint, push.headers(browser.endpoint, overrides), body)
    connector = aiohttp.TCPConnector(ssl=_trusting(tls_service, "http/1.1"))
    async with aiohttp.ClientSession(connector=connector) as http:
        over_http11 = await Pusher(http, push.signer).raw(browser.endpoint, body, overrides)
    assert over_h2.status >= 400
    assert (over_h2.status, over_h2.json()) == (over_http11.status, over_http11.json())
    assert over_h2.headers["Content-Type"] == over_http11.headers["Content-Type"]
    assert [r.protocol for r in tls_service.requests] == ["h2", "http/1.1"]
    assert browser.messages == []


async def test_h2_answers_404_off_the_push_path_and_405_to_other_methods(
    tls_service: LocalPushService, h2: H2Client
) -> None:
    browser = tls_service.new_browser()
    elsewhere = await h2.answer(await h2.start("POST", f"{tls_service.base_url}/other", {}, b""))
    get = await h2.answer(await h2.start("GET", browser.endpoint, {}, b""))
    assert (elsewhere.status, elsewhere.json()["errno"]) == (404, 102)
    assert get.status == 405
    assert tls_service.requests == []


async def test_fault_over_h2_answers_its_status_and_retry_after(
    tls_service: LocalPushService, h2: H2Client, push: Pusher
) -> None:
    browser = tls_service.new_browser()
    tls_service.inject(Fault(status=429, times=1, retry_after="7"))
    body = encrypt(b"x", browser.p256dh, browser.auth)
    refused = await h2.post(browser.endpoint, push.headers(browser.endpoint), body)
    accepted = await h2.post(browser.endpoint, push.headers(browser.endpoint), body)
    assert (refused.status, refused.headers["Retry-After"]) == (429, "7")
    assert accepted.status == 201
    assert [(r.status, r.fault, r.protocol) for r in tls_service.requests] == [
        (429, True, "h2"),
        (201, False, "h2"),
    ]


async def test_answer_larger_than_the_window_arrives_whole(
    tls_service: LocalPushService, h2: H2Client, push: Pusher
) -> None:
    browser = tls_service.new_browser()
    text = "no " * 60_000  # 180 KB: more than a stream's and the connection's first window
    tls_service.inject(Fault(status=503, body=text))
    body = encrypt(b"x", browser.p256dh, browser.auth)
    answers = await asyncio.gather(
        *(h2.post(browser.endpoint, push.headers(browser.endpoint), body) for _ in range(2))
    )
    assert [(a.status, a.text) for a in answers] == [(503, text)] * 2


async def test_a_delayed_stream_does_not_hold_back_the_others(
    tls_service: LocalPushService, h2: H2Client, push: Pusher
) -> None:
    slow, fast = tls_service.new_browser(), tls_service.new_browser()
    tls_service.inject(Fault(status=201, delay=60, endpoint_id=slow.id))
    slow_body = encrypt(b"slow", slow.p256dh, slow.auth)
    slow_stream = await h2.start("POST", slow.endpoint, push.headers(slow.endpoint), slow_body)
    fast_body = encrypt(b"fast", fast.p256dh, fast.auth)
    answer = await h2.post(fast.endpoint, push.headers(fast.endpoint), fast_body)
    assert answer.status == 201 and fast.messages[0].plaintext == b"fast"
    assert not h2.answer(slow_stream).done() and slow.messages == []


async def test_http11_over_tls_goes_to_the_same_handler(
    tls_service: LocalPushService, push: Pusher
) -> None:
    browser = tls_service.new_browser()
    connector = aiohttp.TCPConnector(ssl=_trusting(tls_service, "http/1.1"))
    async with aiohttp.ClientSession(connector=connector) as http:
        answer = await Pusher(http, push.signer).encrypted(browser, b"over TLS")
    assert answer.status == 201 and browser.messages[0].plaintext == b"over TLS"
    assert tls_service.requests[0].protocol == "http/1.1"


@pytest.mark.parametrize(
    ("offered", "client_offers", "chosen"),
    [
        (("h2", "http/1.1"), ("h2", "http/1.1"), "h2"),
        (("h2", "http/1.1"), ("http/1.1",), "http/1.1"),
        (("http/1.1",), ("h2", "http/1.1"), "http/1.1"),
        (("h2",), ("h2", "http/1.1"), "h2"),
    ],
)
async def test_alpn_chooses_what_both_sides_speak(
    offered: tuple[str, ...], client_offers: tuple[str, ...], chosen: str
) -> None:
    async with LocalPushService(tls=True, protocols=offered) as service:
        context = _trusting(service, *client_offers)
        _, writer = await asyncio.open_connection(service.host, service.port, ssl=context)
        assert writer.get_extra_info("ssl_object").selected_alpn_protocol() == chosen
        writer.close()


async def test_h2_only_service_closes_an_http11_connection(push: Pusher) -> None:
    async with LocalPushService(tls=True, protocols=("h2",)) as service:
        browser = service.new_browser()
        connector = aiohttp.TCPConnector(ssl=_trusting(service, "http/1.1"))
        async with aiohttp.ClientSession(connector=connector) as http:
            with pytest.raises(aiohttp.ClientError):
                await Pusher(http, push.signer).encrypted(browser)
        assert service.requests == [] and browser.messages == []


def test_protocols_other_than_h2_and_http11_are_refused() -> None:
    with pytest.raises(ValueError, match="protocols"):
        LocalPushService(tls=True, protocols=("h3",))
