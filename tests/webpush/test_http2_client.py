"""The push client over HTTP/2 (issue #14), against scripted h2 push services over TLS.

Each case asserts how many requests the server saw: at most once per attempt holds for HTTP/2
too, the only resend being a request the push service provably did not process (above a
GOAWAY's last stream id, or refused with REFUSED_STREAM), and that only once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from pushgate.webpush.responses import Outcome, Verdict
from pushgate.webpush.sender import PushClient
from tests.webpush.h2_server import H2Peer, H2Server, Request
from tests.webpush.scripted_server import ScriptedServer, keep_answering, self_signed_tls

TIMEOUT_SECONDS = 2.0
REFUSED_STREAM = 0x7


@pytest.fixture
async def trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The directory the test's server writes its certificate to; the client trusts it."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
    return tmp_path


@asynccontextmanager
async def push_client(
    timeout: float = TIMEOUT_SECONDS, per_host: int = 100, http2: str = "auto"
) -> AsyncIterator[PushClient]:
    async with PushClient(
        timeout_seconds=timeout, max_in_flight_per_host=per_host, http2=http2
    ) as client:
        yield client


async def send(client: PushClient, url: str, body: bytes = b"encrypted") -> Outcome:
    headers = client.headers("vapid t=token, k=key", 60, "high", None)
    return await client.send(url, body, headers)


async def send_many(client: PushClient, server: H2Server, count: int, **kw: bytes) -> dict:
    paths = [f"/p/{n}" for n in range(count)]
    outcomes = await asyncio.gather(*(send(client, server.url(p), **kw) for p in paths))
    return dict(zip(paths, outcomes, strict=True))


def server_for(tmp_path: Path, *args: object, **kwargs: object) -> H2Server:
    return H2Server(tmp_path, *args, **kwargs)  # type: ignore[arg-type]


async def test_many_posts_share_one_connection(trusted: Path) -> None:
    async with server_for(trusted) as server, push_client() as client:
        outcomes = await send_many(client, server, 200)
    assert {o.verdict for o in outcomes.values()} == {Verdict.ACCEPTED}
    assert server.connections == 1
    assert sorted(r.path for r in server.requests) == sorted(outcomes)
    request = server.requests[0]
    assert request.headers["authorization"] == "vapid t=token, k=key"
    assert (request.headers["ttl"], request.headers["urgency"]) == ("60", "high")
    assert request.headers["content-encoding"] == "aes128gcm"
    assert request.headers[":method"] == "POST" and request.body == b"encrypted"
    assert request.headers["content-length"] == str(len(b"encrypted"))


async def test_flow_control_stalls_4k_bodies_and_resumes(trusted: Path) -> None:
    """Stream windows of 1 KB and the default 64 KB connection window: 40 bodies of 4 KB need
    WINDOW_UPDATEs from the server, each arrives whole. A first post lets the server's SETTINGS
    arrive first: lowered under streams already sent, they leave those windows negative, which
    the h2 library's server does not reopen until more DATA comes (the client rightly waits)."""
    bodies = {f"/p/{n}": bytes([n]) * 4096 for n in range(40)}
    async with server_for(trusted, settings={4: 1024}) as server, push_client() as client:
        first = await send(client, server.url("/first"))
        sends = [send(client, server.url(path), body) for path, body in bodies.items()]
        outcomes = await asyncio.gather(*sends)
    assert {o.verdict for o in [first, *outcomes]} == {Verdict.ACCEPTED}
    assert {r.path: r.body for r in server.requests[1:]} == bodies
    assert len(server.requests) == 41 and server.connections == 1


async def test_goaway_retries_only_the_streams_above_its_last_id(trusted: Path) -> None:
    async def goaway_after_stream_9(peer: H2Peer, request: Request) -> None:
        if peer.number > 0 or request.stream_id <= 9:
            peer.answer(request, 201)
        if peer.number == 0 and request.stream_id == 9:
            peer.goaway(last_stream_id=9)

    async with server_for(trusted, goaway_after_stream_9) as server, push_client() as client:
        outcomes = await send_many(client, server, 20)
    assert {o.verdict for o in outcomes.values()} == {Verdict.ACCEPTED}
    first = {r.path: r.stream_id for r in server.requests if r.connection == 0}
    assert len(first) == 20  # all reached the first connection, in one write
    for path in outcomes:
        seen = server.seen(path)
        # processed (stream id ≤ 9) once; refused by GOAWAY once more, on a new connection
        assert len(seen) == (1 if first[path] <= 9 else 2), path
        assert seen[-1].answered == 201
    assert server.connections == 2


async def test_refused_stream_is_sent_again_once(trusted: Path) -> None:
    async def refuse(peer: H2Peer, request: Request) -> None:
        if request.path == "/p/4" or (request.path == "/p/3" and len(server.seen("/p/3")) == 1):
            peer.reset(request, REFUSED_STREAM)
        else:
            peer.answer(request, 201)

    async with server_for(trusted, refuse) as server, push_client() as client:
        outcomes = await send_many(client, server, 8)
    assert outcomes["/p/3"].verdict is Verdict.ACCEPTED
    assert (outcomes["/p/4"].verdict, outcomes["/p/4"].status) == (Verdict.RETRY, 0)
    assert "refused" in outcomes["/p/4"].reason
    assert [len(server.seen(p)) for p in sorted(outcomes)] == [1, 1, 1, 2, 2, 1, 1, 1]


async def test_a_stream_without_answer_times_out_alone(trusted: Path) -> None:
    async def silent_on_0(peer: H2Peer, request: Request) -> None:
        if request.path != "/p/0":
            peer.answer(request, 201)

    started = asyncio.get_running_loop().time()
    async with server_for(trusted, silent_on_0) as server, push_client(timeout=1.0) as client:
        outcomes = await send_many(client, server, 10)
        ended = asyncio.get_running_loop().time()
        later = await send(client, server.url("/later"))  # the connection still serves
    assert outcomes.pop("/p/0").reason.startswith("TimeoutError")
    assert {o.verdict for o in outcomes.values()} == {Verdict.ACCEPTED}
    assert later.verdict is Verdict.ACCEPTED
    assert len(server.requests) == 11 and server.connections == 1
    assert 0.9 < ended - started < 3.0


async def test_connection_dropped_mid_stream_is_an_error_without_resend(trusted: Path) -> None:
    async def drop_at_5(peer: H2Peer, request: Request) -> None:
        if request.stream_id < 11:
            peer.answer(request, 201)
        elif request.stream_id == 11:
            peer.drop()

    async with server_for(trusted, drop_at_5) as server, push_client() as client:
        outcomes = await send_many(client, server, 10)
    accepted = [p for p, o in outcomes.items() if o.verdict is Verdict.ACCEPTED]
    failed = [o for o in outcomes.values() if o.verdict is not Verdict.ACCEPTED]
    assert len(accepted) == 5
    assert {(o.verdict, o.status) for o in failed} == {(Verdict.RETRY, 0)}
    assert len(server.requests) == 10 and server.connections == 1  # no resend


async def test_continuation_and_103_before_201(trusted: Path) -> None:
    async def hints_then_split(peer: H2Peer, request: Request) -> None:
        peer.interim(request, 103)
        peer.answer_in_continuations(request, 201, pieces=3)

    async with server_for(trusted, hints_then_split) as server, push_client() as client:
        outcomes = await send_many(client, server, 5)
    assert {(o.verdict, o.status) for o in outcomes.values()} == {(Verdict.ACCEPTED, 201)}
    assert len(server.requests) == 5


async def test_410_is_counted_for_its_own_stream_only(trusted: Path) -> None:
    async def gone_3(peer: H2Peer, request: Request) -> None:
        if request.path == "/p/3":
            peer.answer(request, 410, b"gone")
        else:
            peer.answer(request, 201)

    async with server_for(trusted, gone_3) as server, push_client() as client:
        outcomes = await send_many(client, server, 30)
    gone = [p for p, o in outcomes.items() if o.verdict is Verdict.GONE]
    assert gone == ["/p/3"]
    assert len(server.requests) == 30


async def test_server_offering_only_http11_gets_http11(tmp_path: Path, monkeypatch) -> None:
    tls, ca_file = self_signed_tls(tmp_path)
    tls.set_alpn_protocols(["http/1.1"])
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    async with ScriptedServer(default=keep_answering, tls=tls) as server, push_client() as client:
        outcomes = [await send(client, server.url(f"/p/{n}")) for n in range(5)]
    assert {o.verdict for o in outcomes} == {Verdict.ACCEPTED}
    assert [r.path for r in server.requests] == [f"/p/{n}" for n in range(5)]
    assert server.connections == 2  # the one that learnt ALPN's answer, and the pool's


async def test_http2_off_offers_only_http11(tmp_path: Path, monkeypatch) -> None:
    tls, ca_file = self_signed_tls(tmp_path)
    tls.set_alpn_protocols(["h2", "http/1.1"])
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    async with (
        ScriptedServer(default=keep_answering, tls=tls) as server,
        push_client(http2="off") as client,
    ):
        outcomes = [await send(client, server.url(f"/p/{n}")) for n in range(5)]
    assert {o.verdict for o in outcomes} == {Verdict.ACCEPTED}
    assert [r.path for r in server.requests] == [f"/p/{n}" for n in range(5)]
    assert server.connections == 1


def test_pushgate_http2_setting_is_auto_or_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """PUSHGATE_HTTP2 (--http2) reaches the send workers' limits; other values are refused."""
    import click

    from pushgate.cli_settings import build_settings
    from pushgate.settings import env_var

    assert env_var("http2") == "PUSHGATE_HTTP2"
    assert build_settings({}).http2 == "auto"
    assert build_settings({"http2": "off"}).http2 == "off"
    with pytest.raises(click.UsageError, match="PUSHGATE_HTTP2 must be auto or off"):
        build_settings({"http2": "on"})
