"""The push client's HTTP/1.1 connection pool against a real local server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from pushgate.webpush.http1 import Http1Client, header_block


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[web.Request], dict[str, int]]]:
    seen: list[web.Request] = []
    peers: dict[str, int] = {}

    async def push(request: web.Request) -> web.Response:
        seen.append(request)
        body = await request.read()
        peer = str(request.transport.get_extra_info("peername")) if request.transport else ""
        peers[peer] = peers.get(peer, 0) + 1
        name = request.match_info["name"]
        if name == "slow":
            await asyncio.sleep(2)
        if name == "limited":
            return web.Response(status=429, headers={"Retry-After": "17"}, text="slow down")
        if name == "moved":
            raise web.HTTPFound("http://127.0.0.1:1/elsewhere")
        if name == "close":
            return web.Response(status=201, headers={"Connection": "close"})
        return web.Response(status=201, text=str(len(body)))

    app = web.Application()
    app.router.add_post("/push/{name}", push)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", seen, peers
    await runner.cleanup()


async def test_posts_reuse_keep_alive_connections(server) -> None:
    base, seen, peers = server
    client = Http1Client(limit_per_origin=2, timeout_seconds=5)
    answers = await asyncio.gather(
        *(
            client.post(f"{base}/push/a?x=1", header_block({"TTL": "60"}), b"x" * 100)
            for _ in range(20)
        )
    )
    assert [a.status for a in answers] == [201] * 20
    assert len(seen) == 20 and seen[0].headers["TTL"] == "60" and seen[0].query_string == "x=1"
    assert seen[0].headers["Content-Length"] == "100"
    assert len(peers) <= 2  # at most limit_per_origin connections, each reused
    await client.close()


async def test_retry_after_and_body_excerpt_are_returned(server) -> None:
    base, _, _ = server
    client = Http1Client(limit_per_origin=1, timeout_seconds=5)
    answer = await client.post(f"{base}/push/limited", b"", b"")
    assert (answer.status, answer.retry_after, answer.excerpt) == (429, "17", b"slow down")
    await client.close()


async def test_redirects_are_not_followed(server) -> None:
    base, seen, _ = server
    client = Http1Client(limit_per_origin=1, timeout_seconds=5)
    answer = await client.post(f"{base}/push/moved", b"", b"")
    assert answer.status == 302 and len(seen) == 1
    await client.close()


async def test_connection_close_answer_then_next_request_opens_a_new_one(server) -> None:
    base, seen, peers = server
    client = Http1Client(limit_per_origin=1, timeout_seconds=5)
    assert (await client.post(f"{base}/push/close", b"", b"")).status == 201
    assert (await client.post(f"{base}/push/a", b"", b"")).status == 201
    assert len(peers) == 2
    await client.close()


async def test_slow_answer_times_out(server) -> None:
    base, _, _ = server
    client = Http1Client(limit_per_origin=1, timeout_seconds=0.3)
    with pytest.raises(TimeoutError):
        await client.post(f"{base}/push/slow", b"", b"")
    assert (await client.post(f"{base}/push/a", b"", b"")).status == 201  # pool still works
    await client.close()


async def test_timeout_per_request_overrides_the_clients(server) -> None:
    base, _, _ = server
    client = Http1Client(limit_per_origin=1, timeout_seconds=30)
    started = asyncio.get_running_loop().time()
    with pytest.raises(TimeoutError, match="within 0.3 s"):
        await client.post(f"{base}/push/slow", b"", b"", timeout=0.3)
    assert asyncio.get_running_loop().time() - started < 1.5  # not the client's 30 s
    await client.close()


async def test_requests_past_the_limit_wait_in_turn_and_a_cancelled_one_frees_its_turn(
    server,
) -> None:
    base, seen, peers = server
    client = Http1Client(limit_per_origin=1, timeout_seconds=5)
    slow = asyncio.create_task(client.post(f"{base}/push/slow", b"", b""))
    await asyncio.sleep(0.2)  # the slow request holds the only slot
    waiting = [asyncio.create_task(client.post(f"{base}/push/w{i}", b"", b"")) for i in range(3)]
    await asyncio.sleep(0.1)
    waiting[0].cancel()
    answers = await asyncio.wait_for(asyncio.gather(slow, waiting[1], waiting[2]), 10)
    assert [a.status for a in answers] == [201] * 3 and waiting[0].cancelled()
    assert [r.match_info["name"] for r in seen] == ["slow", "w1", "w2"]  # in turn, one at a time
    assert len(peers) == 1
    await client.close()


async def test_paused_client_starts_no_new_request_until_resumed(server) -> None:
    base, seen, _ = server
    client = Http1Client(limit_per_origin=4, timeout_seconds=5)
    client.pause(True)
    post = asyncio.create_task(client.post(f"{base}/push/a", b"", b""))
    await asyncio.sleep(0.2)
    assert seen == [] and not post.done()
    client.pause(False)
    assert (await asyncio.wait_for(post, 5)).status == 201 and len(seen) == 1
    await client.close()


async def test_refused_connection_raises(server) -> None:
    client = Http1Client(limit_per_origin=1, timeout_seconds=2)
    with pytest.raises(OSError):
        await client.post("http://127.0.0.1:9/push/a", b"", b"")


async def test_header_injection_is_refused(server) -> None:
    base, seen, _ = server
    client = Http1Client(limit_per_origin=1, timeout_seconds=2)
    with pytest.raises(ValueError):
        header_block({"Topic": "a\r\nX-Evil: 1"})
    with pytest.raises(ValueError):
        await client.post(f"{base}/push/a X-Evil: 1", b"", b"")
    assert seen == []
