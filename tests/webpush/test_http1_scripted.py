"""The push client against a scripted, misbehaving push service (issue #8, item 2).

Every case ends with each post seen exactly once by the server, the outcome its own answer
calls for, and no subscriber gone unless its own request was answered 404 or 410.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from pushgate.webpush.http1 import MAX_PARALLEL_CONNECTS, Http1Client
from pushgate.webpush.responses import (
    MIN_RETRY_AFTER_SECONDS,
    RETRY_AFTER_JITTER_SECONDS,
    Outcome,
    Verdict,
)
from pushgate.webpush.sender import PushClient
from tests.webpush.scripted_server import (
    CREATED,
    GONE,
    Peer,
    ScriptedServer,
    keep_answering,
    self_signed_tls,
)

TIMEOUT_SECONDS = 2.0


@asynccontextmanager
async def push_client(
    timeout: float = TIMEOUT_SECONDS, per_host: int = 8
) -> AsyncIterator[PushClient]:
    async with PushClient(timeout_seconds=timeout, max_in_flight_per_host=per_host) as client:
        yield client


async def send(client: PushClient, server: ScriptedServer, path: str) -> Outcome:
    headers = client.headers("vapid t=token, k=key", 60, None, None)
    return await client.send(server.url(path), b"encrypted", headers)


def assert_each_seen_once(server: ScriptedServer, outcomes: dict[str, Outcome]) -> None:
    """One request on the wire per post, and GONE only for a post answered 404/410 itself."""
    assert len(server.requests) == len(outcomes), [r.path for r in server.requests]
    for path, outcome in outcomes.items():
        seen = server.seen(path)
        assert len(seen) == 1, f"{path} reached the push service {len(seen)} times"
        if outcome.verdict is Verdict.GONE:
            assert seen[0].answered in (404, 410), f"{path} deleted on another's answer"


# --- no answer, or not a whole one: an error for the engine, never a resend ------------------


async def test_reset_after_reading_the_request_is_one_request_and_a_retry() -> None:
    async def created_then_reset(peer: Peer) -> None:
        await peer.answer(CREATED)
        if await peer.read_request():
            peer.reset()

    async with ScriptedServer(created_then_reset) as server, push_client() as client:
        outcomes = {"/a": await send(client, server, "/a"), "/b": await send(client, server, "/b")}
    assert outcomes["/a"].verdict is Verdict.ACCEPTED
    assert (outcomes["/b"].verdict, outcomes["/b"].status) == (Verdict.RETRY, 0)
    assert_each_seen_once(server, outcomes)


async def test_reset_on_a_new_connection_is_one_request_and_a_retry() -> None:
    async def reset(peer: Peer) -> None:
        if await peer.read_request():
            peer.reset()

    async with ScriptedServer(reset) as server, push_client() as client:
        outcomes = {"/a": await send(client, server, "/a")}
    assert (outcomes["/a"].verdict, outcomes["/a"].status) == (Verdict.RETRY, 0)
    assert_each_seen_once(server, outcomes)


async def test_close_after_reading_on_a_new_connection_is_not_resent() -> None:
    async def read_then_close(peer: Peer) -> None:
        await peer.read_request()
        await peer.close()

    async with ScriptedServer(read_then_close) as server, push_client() as client:
        outcomes = {"/a": await send(client, server, "/a")}
    assert (outcomes["/a"].verdict, outcomes["/a"].status) == (Verdict.RETRY, 0)
    assert_each_seen_once(server, outcomes)


@pytest.mark.parametrize(
    "half",
    [
        b"HTTP/1.1 2",
        b"HTTP/1.1 201 Created\r\nContent-Len",
        b"HTTP/1.1 201 Created\r\nContent-Length: 10\r\n\r\nabc",
        b"HTTP/1.1 410 Gone\r\nTransfer-Encoding: chunked\r\n\r\n5\r\ngo",
    ],
    ids=["status-line", "headers", "body", "chunked-410"],
)
async def test_half_an_answer_then_close_is_one_request_and_a_retry(half: bytes) -> None:
    async def created_then_half(peer: Peer) -> None:
        await peer.answer(CREATED)
        await peer.answer(half)
        await peer.close()

    async with ScriptedServer(created_then_half) as server, push_client() as client:
        outcomes = {"/a": await send(client, server, "/a"), "/b": await send(client, server, "/b")}
    assert outcomes["/a"].verdict is Verdict.ACCEPTED
    assert (outcomes["/b"].verdict, outcomes["/b"].status) == (Verdict.RETRY, 0)
    assert_each_seen_once(server, outcomes)


@pytest.mark.parametrize(
    "garbage",
    [
        b"HTTP/1.1 20x Created\r\nContent-Length: 0\r\n\r\n",
        b"SPDY/3 201 Created\r\n\r\n",
        b"<html>410 Gone</html>\r\n\r\n",
        b"\x15\x03\x03\x00\x02\x02\x46",  # a TLS alert on a plain connection
    ],
    ids=["status", "protocol", "html", "tls-alert"],
)
async def test_garbage_status_line_is_one_request_and_a_retry_at_once(garbage: bytes) -> None:
    async def created_then_garbage(peer: Peer) -> None:
        await peer.answer(CREATED)
        await peer.answer(garbage)
        await peer.hold()  # the client, not the server, must give up on this connection

    async with ScriptedServer(created_then_garbage) as server, push_client() as client:
        outcomes = {"/a": await send(client, server, "/a")}
        started = time.monotonic()
        outcomes["/b"] = await send(client, server, "/b")
        elapsed = time.monotonic() - started
        outcomes["/c"] = await send(client, server, "/c")
    assert (outcomes["/b"].verdict, outcomes["/b"].status) == (Verdict.RETRY, 0)
    assert elapsed < TIMEOUT_SECONDS / 2  # rejected as it came, not left to time out
    assert outcomes["/c"].verdict is Verdict.ACCEPTED and server.seen("/c")[0].connection == 1
    assert_each_seen_once(server, outcomes)


@pytest.mark.parametrize("before_headers", [True, False], ids=["before-headers", "mid-body"])
async def test_stalled_answer_times_out_as_one_request(before_headers: bool) -> None:
    async def created_then_stall(peer: Peer) -> None:
        await peer.answer(CREATED)
        seen = await peer.read_request()
        if seen is not None and not before_headers:
            await peer.send(b"HTTP/1.1 201 Created\r\nContent-Length: 10\r\n\r\nabc", to=seen)
        await peer.hold()

    async with ScriptedServer(created_then_stall) as server, push_client(timeout=0.5) as client:
        outcomes = {"/a": await send(client, server, "/a")}
        started = time.monotonic()
        outcomes["/b"] = await send(client, server, "/b")
        elapsed = time.monotonic() - started
        outcomes["/c"] = await send(client, server, "/c")
    assert (outcomes["/b"].verdict, outcomes["/b"].status) == (Verdict.RETRY, 0)
    assert "TimeoutError" in outcomes["/b"].reason
    assert 0.4 < elapsed < 1.5
    assert outcomes["/c"].verdict is Verdict.ACCEPTED
    assert_each_seen_once(server, outcomes)


async def test_stale_pooled_connection_sends_the_request_once_on_a_new_one() -> None:
    """The one case the client resends by itself: the push service closed the idle connection
    as the request arrived, and dropped the request unread."""

    async def created_then_drop_unread(peer: Peer) -> None:
        await peer.answer(CREATED)
        await peer.discard()
        await peer.close()

    async with ScriptedServer(created_then_drop_unread) as server, push_client() as client:
        outcomes = {"/a": await send(client, server, "/a"), "/b": await send(client, server, "/b")}
    assert outcomes["/b"].verdict is Verdict.ACCEPTED
    assert server.seen("/b")[0].connection == 1
    assert_each_seen_once(server, outcomes)


# --- answers that end by closing the connection keep their status -----------------------------


@pytest.mark.parametrize(
    ("answer", "verdict", "status"),
    [
        (b"HTTP/1.1 201 Created\r\nConnection: close\r\n\r\nqueued", Verdict.ACCEPTED, 201),
        (b"HTTP/1.1 201 Created\r\n\r\nqueued", Verdict.ACCEPTED, 201),
        (b"HTTP/1.0 201 Created\r\n\r\n", Verdict.ACCEPTED, 201),
        (b"HTTP/1.0 410 Gone\r\n\r\nunsubscribed", Verdict.GONE, 410),
        (b"HTTP/1.0 413 Too Large\r\n\r\ntoo big", Verdict.FAILED, 413),
    ],
    ids=["1.1-close", "1.1-no-length", "1.0-empty", "1.0-gone", "1.0-413"],
)
@pytest.mark.parametrize("reused", [False, True], ids=["new", "reused"])
async def test_close_delimited_answer_keeps_its_status(
    answer: bytes, verdict: Verdict, status: int, reused: bool
) -> None:
    async def close_delimited(peer: Peer) -> None:
        if reused:
            await peer.answer(CREATED)
        await peer.answer(answer, every=4)
        await peer.close()

    async with ScriptedServer(close_delimited) as server, push_client() as client:
        outcomes = {"/a": await send(client, server, "/a")} if reused else {}
        outcomes["/b"] = await send(client, server, "/b")
        outcomes["/c"] = await send(client, server, "/c")
    assert (outcomes["/b"].verdict, outcomes["/b"].status) == (verdict, status)
    assert outcomes["/c"].verdict is Verdict.ACCEPTED and server.seen("/c")[0].connection == 1
    assert_each_seen_once(server, outcomes)


@pytest.mark.parametrize("secure", [False, True], ids=["http", "https"])
async def test_close_delimited_body_is_read_to_the_end(
    secure: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = b"HTTP/1.0 429 Too Many Requests\r\nRetry-After: 5\r\n\r\nslow down, please"

    async def close_delimited(peer: Peer) -> None:
        await peer.answer(answer, every=3)
        await peer.close()

    tls = None
    if secure:
        tls, ca_file = self_signed_tls(tmp_path)
        monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    client = Http1Client(limit_per_origin=1, timeout_seconds=TIMEOUT_SECONDS)
    async with ScriptedServer(close_delimited, tls=tls) as server:
        response = await client.post(server.url("/a"), b"", b"x")
    await client.close()
    assert (response.status, response.retry_after) == (429, "5")
    assert response.excerpt == b"slow down, please"


# --- framing: chunks, interim answers ---------------------------------------------------------

CHUNKED_GONE = (
    b"HTTP/1.1 410 Gone\r\nRetry-After: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"4\r\ngone\r\n7\r\n, sorry\r\n0\r\n\r\n"
)
CHUNKED_CREATED = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"


async def test_chunked_answers_split_at_every_byte_are_read_whole() -> None:
    async def byte_by_byte(peer: Peer) -> None:
        await peer.answer(CHUNKED_GONE, every=1)
        await peer.answer(CHUNKED_CREATED, every=1)
        await peer.hold()

    client = Http1Client(limit_per_origin=1, timeout_seconds=TIMEOUT_SECONDS)
    async with ScriptedServer(byte_by_byte) as server:
        gone = await client.post(server.url("/a"), b"", b"x")
        created = await client.post(server.url("/b"), b"", b"x")
    await client.close()
    assert (gone.status, gone.retry_after, gone.excerpt) == (410, "3", b"gone, sorry")
    assert (created.status, created.excerpt) == (201, b"ok")
    assert server.connections == 1  # the connection stayed in use: both answers ended right


@pytest.mark.parametrize(
    ("interim", "final", "verdict"),
    [
        (b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", CREATED, 201),
        (b"HTTP/1.1 100 Continue\r\n\r\n", CREATED, 201),
        (b"HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n", GONE, 410),
    ],
    ids=["103-201", "100-201", "103-102-410"],
)
@pytest.mark.parametrize("together", [True, False], ids=["one-packet", "apart"])
async def test_interim_answers_are_skipped_for_the_final_one(
    interim: bytes, final: bytes, verdict: int, together: bool
) -> None:
    async def interim_first(peer: Peer) -> None:
        while (seen := await peer.read_request()) is not None:
            if together:
                await peer.send(interim + final, to=seen)
            else:
                await peer.send(interim)
                await asyncio.sleep(0.05)
                await peer.send(final, to=seen)

    async with ScriptedServer(interim_first) as server, push_client() as client:
        outcomes = {"/a": await send(client, server, "/a"), "/b": await send(client, server, "/b")}
    assert [outcome.status for outcome in outcomes.values()] == [verdict, verdict]
    assert server.connections == 1
    assert_each_seen_once(server, outcomes)


# --- answers to no request --------------------------------------------------------------------


async def _stray_in_one_packet(peer: Peer) -> None:
    await peer.send(CREATED + GONE, to=await peer.read_request())


async def _stray_while_idle(peer: Peer) -> None:
    await peer.send(CREATED, to=await peer.read_request())
    await asyncio.sleep(0.05)
    await peer.send(GONE)


async def _stray_split(peer: Peer) -> None:
    await peer.send(CREATED + GONE[:10], to=await peer.read_request())
    await asyncio.sleep(0.05)
    await peer.send(GONE[10:])


@pytest.mark.parametrize(
    "stray",
    [_stray_in_one_packet, _stray_while_idle, _stray_split],
    ids=["packet", "idle", "split"],
)
async def test_stray_answer_is_never_taken_for_the_next_request(stray) -> None:
    async def answer_then_stray(peer: Peer) -> None:
        await stray(peer)
        await keep_answering(peer)

    async with ScriptedServer(answer_then_stray) as server, push_client() as client:
        outcomes = {"/a": await send(client, server, "/a")}
        await asyncio.sleep(0.2)
        outcomes["/b"] = await send(client, server, "/b")
    assert [outcome.verdict for outcome in outcomes.values()] == [Verdict.ACCEPTED] * 2
    assert server.seen("/b")[0].connection == 1  # the connection that lied was dropped
    assert_each_seen_once(server, outcomes)


async def test_stray_answers_under_load_never_delete_a_live_subscriber() -> None:
    """200 live subscribers, 8 connections, and a push service that follows every fifth answer
    with the start of an extra `410` in the same packet and its end in the next."""

    async def sometimes_stray(peer: Peer) -> None:
        count = 0
        while (seen := await peer.read_request()) is not None:
            count += 1
            if count % 5:
                await peer.send(CREATED, to=seen)
                continue
            await peer.send(CREATED + GONE[:12], to=seen)
            if (seen := await peer.read_request()) is None:
                return
            await peer.send(GONE[12:])
            await peer.send(CREATED, to=seen)

    async with (
        ScriptedServer(default=sometimes_stray) as server,
        push_client(per_host=8) as client,
    ):
        paths = [f"/s{i}" for i in range(200)]
        answers = await asyncio.gather(*(send(client, server, path) for path in paths))
    outcomes = dict(zip(paths, answers, strict=True))
    assert [outcome.verdict for outcome in answers] == [Verdict.ACCEPTED] * 200
    assert_each_seen_once(server, outcomes)


# --- Retry-After ------------------------------------------------------------------------------

RETRY_NOW = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n"


async def test_retry_after_zero_is_floored_so_retries_cannot_spin() -> None:
    """20 subscribers retried as the outcome says for 1.5 s: at most two requests each (the
    first, and one after the floor), where an unfloored `Retry-After: 0` makes thousands."""

    async def always_retry_now(peer: Peer) -> None:
        while await peer.answer(RETRY_NOW) is not None:
            pass

    async def subscriber(client: PushClient, server: ScriptedServer, number: int) -> list[float]:
        delays: list[float] = []
        stop = time.monotonic() + 1.5
        while True:
            outcome = await send(client, server, f"/s{number}/{len(delays)}")
            assert (outcome.verdict, outcome.status) == (Verdict.RETRY, 503)
            delays.append(outcome.delay)
            if time.monotonic() + outcome.delay >= stop:
                return delays  # the next try would come after the window
            await asyncio.sleep(outcome.delay)

    async with (
        ScriptedServer(default=always_retry_now) as server,
        push_client(per_host=20) as client,
    ):
        delays = await asyncio.gather(*(subscriber(client, server, n) for n in range(20)))
    every = [delay for one in delays for delay in one]
    assert len(server.requests) == len(every) <= 2 * 20
    ceiling = MIN_RETRY_AFTER_SECONDS + RETRY_AFTER_JITTER_SECONDS
    assert all(MIN_RETRY_AFTER_SECONDS <= delay <= ceiling for delay in every)
    assert len(set(every)) > len(every) // 2  # jittered, not in step


# --- connecting: inside the timeout, in parallel ----------------------------------------------


async def test_tls_handshake_that_never_finishes_times_out_every_post_in_parallel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """40 posts to an https host that accepts TCP and never answers the ClientHello, with a
    2 s timeout: all end after about 2 s, not one after the other (2, 4, ... 80 s)."""
    tls, ca_file = self_signed_tls(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))

    async def timed(client: PushClient, server: ScriptedServer, path: str) -> float:
        outcome = await send(client, server, path)
        assert (outcome.verdict, outcome.status) == (Verdict.RETRY, 0)
        assert "TimeoutError" in outcome.reason
        return time.monotonic() - started

    async with (
        ScriptedServer(tls=tls, handshake=lambda number: False) as server,
        push_client(per_host=400) as client,
    ):
        started = time.monotonic()
        ended = await asyncio.gather(*(timed(client, server, f"/s{n}") for n in range(40)))
    assert min(ended) > TIMEOUT_SECONDS * 0.9 and max(ended) < TIMEOUT_SECONDS + 1.5
    assert server.connections >= MAX_PARALLEL_CONNECTS  # opened side by side, up to the budget
    assert server.requests == []


async def test_tls_first_connection_stalling_does_not_hold_up_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls, ca_file = self_signed_tls(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # the client trusts the test certificate

    async def timed(client: PushClient, server: ScriptedServer, path: str) -> tuple[Verdict, float]:
        outcome = await send(client, server, path)
        return outcome.verdict, time.monotonic() - started

    async with (
        ScriptedServer(tls=tls, handshake=lambda number: number != 0) as server,
        push_client(per_host=400) as client,
    ):
        started = time.monotonic()
        ended = await asyncio.gather(*(timed(client, server, f"/s{n}") for n in range(10)))
    accepted = [seconds for verdict, seconds in ended if verdict is Verdict.ACCEPTED]
    assert len(accepted) == 9 and max(accepted) < TIMEOUT_SECONDS * 0.75
    assert [verdict for verdict, _ in ended].count(Verdict.RETRY) == 1  # the stalled one
    assert len(server.requests) == 9 == len({request.path for request in server.requests})
