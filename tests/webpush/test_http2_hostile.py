"""The HTTP/2 push client against hostile push services, frame by frame (issue #8 part 2,
issue #14).

A raw HTTP/2 server over TLS on loopback, written here without the `h2` library so that it can
break every rule: each connection runs a script on a `RawPeer`, which reads the client's frames,
counts every request it read whole (END_STREAM), and writes whatever frames the script likes.
Each case asserts how many requests the server saw and each request's outcome: at most once
per attempt, no subscriber gone unless its own stream got 404/410, no hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import pytest
from hpack import Decoder
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH

from pushgate.webpush.http1 import ClientStopping
from pushgate.webpush.responses import Outcome, Verdict
from pushgate.webpush.sender import PushClient
from tests.webpush.scripted_server import self_signed_tls

TIMEOUT_SECONDS = 2.0
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = (
    0, 1, 3, 4, 6, 7, 8, 9,
)  # fmt: skip
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE = 3, 4
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, REFUSED_STREAM, CANCEL = 0, 1, 2, 7, 8
ENHANCE_YOUR_CALM = 0xB
T = TypeVar("T")


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    size = len(payload)
    return struct.pack(">HBBBL", size >> 8, size & 0xFF, kind, flags, stream_id) + payload


def literal(name: bytes, value: bytes, *, huffman: bool = False) -> bytes:
    """A literal header field without indexing, new name (RFC 7541 §6.2.2): no table entry."""
    if huffman:
        coded = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH).encode(value)
        assert len(coded) < 127
        return b"\x00" + bytes([len(name)]) + name + bytes([0x80 | len(coded)]) + coded
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def status_block(status: int, *, huffman: bool = False) -> bytes:
    return literal(b":status", b"%d" % status, huffman=huffman) + literal(b"content-length", b"0")


@dataclass
class Seen:
    connection: int
    stream_id: int
    path: str
    body: bytes
    answered: int = 0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RawPeer:
    """The server's end of one connection: frames in, frames out."""

    server: RawServer
    number: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    ack_settings: bool = True
    ack_data: bool = True
    decoder: Decoder = field(default_factory=Decoder)
    heads: dict[int, dict[str, str]] = field(default_factory=dict)
    bodies: dict[int, bytearray] = field(default_factory=dict)
    frames: list[tuple[int, int, int]] = field(default_factory=list)  # (type, flags, stream)
    pending: list[Seen] = field(default_factory=list)
    settings_acked: asyncio.Event = field(default_factory=asyncio.Event)
    resets: list[tuple[int, int]] = field(default_factory=list)  # (stream, code) received
    limit: int | None = None  # MAX_CONCURRENT_STREAMS enforced once the client ACKed it
    refuse_code: int = REFUSED_STREAM  # or PROTOCOL_ERROR: RFC 9113 §5.1.2 allows either
    open_ids: set[int] = field(default_factory=set)  # streams opened, not answered or refused
    refused: list[int] = field(default_factory=list)
    most_open: int = 0  # the most streams open at once while the limit was enforced
    _block: bytearray = field(default_factory=bytearray)

    async def start(self, settings: dict[int, int] | None = None) -> None:
        """Read the client's preface; send our SETTINGS."""
        assert await self.reader.readexactly(len(PREFACE)) == PREFACE
        self.send(SETTINGS, 0, 0, settings_payload(settings or {}))

    def send(self, kind: int, flags: int, stream_id: int, payload: bytes = b"") -> None:
        self.writer.write(frame(kind, flags, stream_id, payload))

    def answer(self, request: Seen, status: int, **options: bool) -> None:
        request.answered = status
        self.open_ids.discard(request.stream_id)
        self.send(
            HEADERS, END_HEADERS | END_STREAM, request.stream_id, status_block(status, **options)
        )

    async def read_frame(self) -> tuple[int, int, int, bytes] | None:
        try:
            head = await self.reader.readexactly(9)
            high, low, kind, flags, stream_id = struct.unpack(">HBBBL", head)
            payload = await self.reader.readexactly((high << 8) | low)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            return None
        self.frames.append((kind, flags, stream_id))
        return kind, flags, stream_id, payload

    async def request(self) -> Seen | None:
        """The next request read whole, counted; None at EOF. SETTINGS, PING and DATA are
        acknowledged on the way unless told otherwise."""
        while not self.pending:
            got = await self.read_frame()
            if got is None:
                return None
            self._handle(*got)
        return self.pending.pop(0)

    def _handle(self, kind: int, flags: int, stream_id: int, payload: bytes) -> None:
        if kind == SETTINGS:
            if flags & ACK:
                self.settings_acked.set()
            elif self.ack_settings:
                self.send(SETTINGS, ACK, 0)
        elif kind == PING and not flags & ACK:
            self.send(PING, ACK, 0, payload)
        elif kind == RST_STREAM:
            self.resets.append((stream_id, struct.unpack(">L", payload)[0]))
        elif kind in (HEADERS, CONTINUATION):
            self._block += payload
            if flags & END_HEADERS:
                fields = self.decoder.decode(bytes(self._block))
                self._block.clear()
                if self._refuse(stream_id):
                    return
                self.heads[stream_id] = {str(n): str(v) for n, v in fields}
                self.bodies[stream_id] = bytearray()
            if flags & END_STREAM:
                self._ended(stream_id)
        elif kind == DATA:
            if stream_id in self.refused:
                return
            self.bodies[stream_id] += payload
            if self.ack_data and payload:
                increment = struct.pack(">L", len(payload))
                self.send(WINDOW_UPDATE, 0, 0, increment)
                self.send(WINDOW_UPDATE, 0, stream_id, increment)
            if flags & END_STREAM:
                self._ended(stream_id)

    def _refuse(self, stream_id: int) -> bool:
        """RFC 9113 §5.1.2: a stream past the acknowledged limit is refused, not processed."""
        if self.limit is None or not self.settings_acked.is_set():
            self.open_ids.add(stream_id)
            return False
        if len(self.open_ids) >= self.limit:
            self.refused.append(stream_id)
            self.send(RST_STREAM, 0, stream_id, struct.pack(">L", self.refuse_code))
            return True
        self.open_ids.add(stream_id)
        self.most_open = max(self.most_open, len(self.open_ids))
        return False

    def _ended(self, stream_id: int) -> None:
        head = self.heads.pop(stream_id)
        body = bytes(self.bodies.pop(stream_id))
        seen = Seen(self.number, stream_id, head[":path"], body, headers=head)
        self.server.requests.append(seen)
        self.pending.append(seen)

    async def requests(self, count: int) -> list[Seen]:
        got = []
        for _ in range(count):
            request = await self.request()
            assert request is not None
            got.append(request)
        return got

    async def arrived(self) -> list[Seen]:
        """The next request and every other one already in the read buffer: streams the
        client opened together are open together on our side too."""
        first = await self.request()
        if first is None:
            return []
        while len(self.reader._buffer) >= 9:  # type: ignore[attr-defined]
            got = await self.read_frame()
            assert got is not None
            self._handle(*got)
        got_all, self.pending = [first, *self.pending], []
        return got_all

    async def until_reset(self, stream_id: int) -> int:
        """Read on until the client resets `stream_id`; its error code."""
        while not any(s == stream_id for s, _ in self.resets):
            got = await self.read_frame()
            assert got is not None, "EOF before the reset"
            self._handle(*got)
        return next(code for s, code in self.resets if s == stream_id)

    async def drain_to_eof(self) -> None:
        while (got := await self.read_frame()) is not None:
            self._handle(*got)


def settings_payload(values: dict[int, int]) -> bytes:
    return b"".join(struct.pack(">HL", key, value) for key, value in values.items())


def goaway(last_stream_id: int, code: int = NO_ERROR) -> bytes:
    return struct.pack(">LL", last_stream_id, code)


RawScript = Callable[[RawPeer], Awaitable[None]]


class RawServer:
    """TLS on 127.0.0.1 with ALPN `alpn`; connection n runs `scripts[n]` (the last one past
    the end). `handshake=False`: accept TCP and never answer the TLS handshake."""

    def __init__(
        self, directory: Path, *scripts: RawScript, alpn: str = "h2", handshake: bool = True
    ) -> None:
        self.tls, _ = self_signed_tls(directory)
        self.tls.set_alpn_protocols([alpn])
        self.scripts, self.handshake = scripts, handshake
        self.requests: list[Seen] = []
        self.connections = 0
        self.closed_by_client: list[int] = []  # connections whose EOF a script saw
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def seen(self, path: str) -> list[Seen]:
        return [request for request in self.requests if request.path == path]

    async def __aenter__(self) -> RawServer:
        self._thread.start()
        self.port = await self._in_thread(self._listen())
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._in_thread(self._shut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.to_thread(self._thread.join, 5)
        self._loop.close()

    async def _in_thread(self, work: Coroutine[object, object, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))

    async def _listen(self) -> int:
        tls = self.tls if self.handshake else None
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=tls)
        return int(self._server.sockets[0].getsockname()[1])

    async def _shut(self) -> None:
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number, self.connections = self.connections, self.connections + 1
        self._writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        if not self.handshake:
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await reader.read()  # silent until the client gives up
            return
        peer = RawPeer(self, number, reader, writer)
        script = self.scripts[min(number, len(self.scripts) - 1)]
        with contextlib.suppress(ConnectionError, ssl.SSLError, asyncio.CancelledError):
            await script(peer)
            await writer.drain()
            await peer.drain_to_eof()
            self.closed_by_client.append(number)
        writer.transport.abort()


async def answer_all(peer: RawPeer) -> None:
    await peer.start()
    while (request := await peer.request()) is not None:
        peer.answer(request, 201)


@pytest.fixture
async def trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The directory the test's server writes its certificate to; the client trusts it."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
    return tmp_path


@asynccontextmanager
async def push_client(
    timeout: float = TIMEOUT_SECONDS, per_host: int = 100
) -> AsyncIterator[PushClient]:
    async with PushClient(timeout_seconds=timeout, max_in_flight_per_host=per_host) as client:
        yield client


async def send(client: PushClient, url: str, body: bytes = b"encrypted") -> Outcome:
    headers = client.headers("vapid t=token, k=key", 60, "high", None)
    return await client.send(url, body, headers)


async def send_many(
    client: PushClient, server: RawServer, count: int, body: bytes = b"x"
) -> dict[str, Outcome]:
    paths = [f"/p/{n}" for n in range(count)]
    outcomes = await asyncio.gather(*(send(client, server.url(p), body) for p in paths))
    return dict(zip(paths, outcomes, strict=True))


def verdicts(outcomes: dict[str, Outcome]) -> dict[str, tuple[Verdict, int]]:
    return {path: (o.verdict, o.status) for path, o in outcomes.items()}


def h2_connections(client: PushClient) -> list[Any]:
    http = client._http  # the test looks inside for leaks: state that outlives its requests
    return [c for o in http._origins() for c in o.connections]


async def test_raw_server_serves_many_on_one_connection(trusted: Path) -> None:
    async with RawServer(trusted, answer_all) as server, push_client() as client:
        outcomes = await send_many(client, server, 50)
    assert set(verdicts(outcomes).values()) == {(Verdict.ACCEPTED, 201)}
    assert len(server.requests) == 50 and server.connections == 1


# GOAWAY (RFC 9113 §6.8): streams above its last id were not processed and go again, once


async def test_goaway_below_in_flight_then_close(trusted: Path) -> None:
    """Ten streams in one write; the server answers streams 1 and 3, keeps 5 (processed, no
    answer), sends GOAWAY(last 5) and closes: 1, 3 accepted, 5 an error sent once, 7-19 sent
    again exactly once on a new connection."""

    async def goaway_at_5(peer: RawPeer) -> None:
        await peer.start()
        requests = await peer.requests(10)
        for request in requests[:2]:
            peer.answer(request, 201)
        peer.send(GOAWAY, 0, 0, goaway(5))
        await peer.writer.drain()
        peer.writer.transport.abort()

    async with RawServer(trusted, goaway_at_5, answer_all) as server, push_client() as client:
        outcomes = await send_many(client, server, 10)
    first = {r.path: r.stream_id for r in server.requests if r.connection == 0}
    assert len(first) == 10
    for path, outcome in outcomes.items():
        stream_id, seen = first[path], server.seen(path)
        if stream_id <= 3:
            assert (outcome.verdict, len(seen)) == (Verdict.ACCEPTED, 1), path
        elif stream_id == 5:
            assert (outcome.verdict, outcome.status, len(seen)) == (Verdict.RETRY, 0, 1), path
        else:
            assert (outcome.verdict, len(seen)) == (Verdict.ACCEPTED, 2), path
            assert [r.connection for r in seen] == [0, 1]
    assert server.connections == 2


async def test_goaway_refusing_the_resend_too_is_an_error_not_a_third_send(trusted: Path) -> None:
    """Every connection takes the streams and answers GOAWAY(0): each request goes twice, and
    ends as an error for the engine to retry later."""

    async def refuse_all(peer: RawPeer) -> None:
        await peer.start()
        await peer.request()
        peer.send(GOAWAY, 0, 0, goaway(0))

    async with RawServer(trusted, refuse_all) as server, push_client() as client:
        outcomes = await send_many(client, server, 3)
    assert set(verdicts(outcomes).values()) == {(Verdict.RETRY, 0)}
    assert all(len(server.seen(p)) <= 2 for p in outcomes)
    assert all("GOAWAY" in o.reason for o in outcomes.values())


async def test_graceful_goaway_mid_broadcast_loses_and_repeats_nothing(trusted: Path) -> None:
    """A push service restarting gracefully: GOAWAY(2^31-1, NO_ERROR) after 20 requests, then
    it answers everything it took, sends GOAWAY(last) and closes once the client has."""

    async def graceful(peer: RawPeer) -> None:
        await peer.start()
        taken = await peer.requests(20)
        peer.send(GOAWAY, 0, 0, goaway(2**31 - 1))
        peer.send(PING, 0, 0, b"drainnow")
        while (got := await peer.read_frame()) is not None:
            peer._handle(*got)
            if got[0] == PING and got[1] & ACK:
                break
        taken += peer.pending
        peer.pending.clear()
        for request in taken:
            peer.answer(request, 201)
        peer.send(GOAWAY, 0, 0, goaway(max(r.stream_id for r in taken)))

    async with (
        RawServer(trusted, graceful, answer_all) as server,
        push_client(per_host=20) as client,
    ):
        outcomes = await send_many(client, server, 200)
    assert set(verdicts(outcomes).values()) == {(Verdict.ACCEPTED, 201)}
    assert sorted(r.path for r in server.requests) == sorted(outcomes)  # each exactly once
    assert server.connections == 2


async def test_rst_stream_after_the_request_was_read_is_an_error_without_resend(
    trusted: Path,
) -> None:
    codes = {"/p/0": NO_ERROR, "/p/1": PROTOCOL_ERROR, "/p/2": INTERNAL_ERROR, "/p/3": CANCEL}
    codes["/p/4"] = ENHANCE_YOUR_CALM

    async def reset_some(peer: RawPeer) -> None:
        await peer.start()
        while (request := await peer.request()) is not None:
            if request.path in codes:
                peer.send(RST_STREAM, 0, request.stream_id, struct.pack(">L", codes[request.path]))
            else:
                peer.answer(request, 201)

    async with RawServer(trusted, reset_some) as server, push_client() as client:
        outcomes = await send_many(client, server, 8)
    for path, outcome in outcomes.items():
        expected = (Verdict.RETRY, 0) if path in codes else (Verdict.ACCEPTED, 201)
        assert (outcome.verdict, outcome.status) == expected, path
        assert len(server.seen(path)) == 1, path
    assert server.connections == 1


@pytest.mark.parametrize("last_stream", ["reset", "unanswered"])
async def test_a_connection_drained_after_goaway_closes_even_if_its_last_stream_failed(
    trusted: Path, last_stream: str
) -> None:
    """GOAWAY(last 1) with stream 1 still open, which the server then resets (or leaves to time
    out), and the server keeps the connection open: the client must close it, or each such
    connection counts against the origin's MAX_CONNECTIONS_PER_ORIGIN for ever and the push
    service is unreachable after four."""

    async def goaway_then_reset(peer: RawPeer) -> None:
        await peer.start()
        request = await peer.request()
        assert request is not None
        peer.send(GOAWAY, 0, 0, goaway(request.stream_id))
        if last_stream == "reset":
            peer.send(RST_STREAM, 0, request.stream_id, struct.pack(">L", INTERNAL_ERROR))

    async with (
        RawServer(trusted, goaway_then_reset) as server,
        push_client(timeout=0.5) as client,
    ):
        outcomes = [await send(client, server.url(f"/p/{n}")) for n in range(6)]
        await asyncio.sleep(0)
        left_open = [c for c in h2_connections(client) if not c.closed]
    assert [(o.verdict, o.status) for o in outcomes] == [(Verdict.RETRY, 0)] * 6
    reason = "reset by the push service (2)" if last_stream == "reset" else "no answer within"
    assert [reason in o.reason for o in outcomes] == [True] * 6, outcomes
    assert [len(server.seen(f"/p/{n}")) for n in range(6)] == [1] * 6
    assert server.connections == 6 and left_open == []


# Header blocks


async def test_continuation_flood_fails_the_connection_without_buffering_it(
    trusted: Path,
) -> None:
    """HEADERS without END_HEADERS, then CONTINUATION frames without end (the 2024
    "CONTINUATION flood"): the client must give up on the connection early, as an error, not
    buffer the block until the stream's timeout."""
    written = [0]

    async def flood(peer: RawPeer) -> None:
        await peer.start()
        request = await peer.request()
        assert request is not None
        peer.send(HEADERS, END_STREAM, request.stream_id, status_block(201))
        filler = literal(b"x-filler", b"v" * 100) * 140  # 15.5 KB a frame
        while written[0] < 64 << 20 and not peer.writer.transport.is_closing():
            peer.send(CONTINUATION, 0, request.stream_id, filler)
            written[0] += len(filler)
            await peer.writer.drain()
            await asyncio.sleep(0)

    async with RawServer(trusted, flood) as server, push_client(timeout=5.0) as client:
        started = asyncio.get_running_loop().time()
        outcome = await send(client, server.url("/p/0"))
        elapsed = asyncio.get_running_loop().time() - started
    assert (outcome.verdict, outcome.status) == (Verdict.RETRY, 0)
    assert "header" in outcome.reason and "Timeout" not in outcome.reason, outcome.reason
    assert elapsed < 4.0 and len(server.requests) == 1
    assert 64 * 1024 < written[0] < 16 << 20, written  # closed long before the flood's end


async def test_answers_on_streams_not_ours_delete_no_subscriber(trusted: Path) -> None:
    """410s on a stream never opened, an even (server) stream, the next stream before the
    client opens it, and a second HEADERS after a stream ended: none is anybody's answer."""

    async def stray_410s(peer: RawPeer) -> None:
        await peer.start()
        gone = status_block(410)
        while (request := await peer.request()) is not None:
            sid = request.stream_id
            peer.send(HEADERS, END_HEADERS | END_STREAM, 2, gone)  # even: the server's
            peer.send(HEADERS, END_HEADERS | END_STREAM, sid + 2, gone)  # the next, not open
            peer.send(HEADERS, END_HEADERS | END_STREAM, sid + 1001, gone)  # never opened
            peer.answer(request, 201)
            peer.send(HEADERS, END_HEADERS | END_STREAM, sid, gone)  # after END_STREAM

    async with RawServer(trusted, stray_410s) as server, push_client() as client:
        outcomes = [await send(client, server.url(f"/p/{n}")) for n in range(10)]
    assert [(o.verdict, o.status) for o in outcomes] == [(Verdict.ACCEPTED, 201)] * 10
    assert len(server.requests) == 10


async def test_410_on_one_stream_among_201s_is_that_subscriber_only(trusted: Path) -> None:
    """Answers out of order, one 410 among them, with Huffman-coded :status values."""

    async def mixed(peer: RawPeer) -> None:
        await peer.start()
        requests = await peer.requests(30)
        for request in reversed(requests):
            peer.answer(request, 410 if request.path == "/p/7" else 201, huffman=True)

    async with RawServer(trusted, mixed) as server, push_client() as client:
        outcomes = await send_many(client, server, 30)
    assert {p for p, o in outcomes.items() if o.verdict is Verdict.GONE} == {"/p/7"}, outcomes
    assert outcomes["/p/7"].status == 410
    assert sum(o.verdict is Verdict.ACCEPTED for o in outcomes.values()) == 29
    assert len(server.requests) == 30 and server.connections == 1


async def test_410_after_the_stream_timed_out_deletes_nothing(trusted: Path) -> None:
    """The client times stream 1 out and resets it (CANCEL); the late 410 that follows is for
    no one: the next request on the connection gets its own 201."""

    async def late_gone(peer: RawPeer) -> None:
        await peer.start()
        slow = await peer.request()
        assert slow is not None
        assert await peer.until_reset(slow.stream_id) == CANCEL
        peer.answer(slow, 410)
        while (request := await peer.request()) is not None:
            peer.answer(request, 201)

    async with RawServer(trusted, late_gone) as server, push_client(timeout=0.5) as client:
        timed_out = await send(client, server.url("/slow"))
        after = [await send(client, server.url(f"/p/{n}")) for n in range(3)]
    assert (timed_out.verdict, timed_out.status) == (Verdict.RETRY, 0)
    assert timed_out.reason.startswith("TimeoutError")
    assert [(o.verdict, o.status) for o in after] == [(Verdict.ACCEPTED, 201)] * 3
    assert len(server.requests) == 4 and server.connections == 1


async def test_hpack_table_size_update_beyond_our_setting_fails_the_connection(
    trusted: Path,
) -> None:
    async def oversize(peer: RawPeer) -> None:
        await peer.start()
        request = await peer.request()
        assert request is not None
        update = b"\x3f\xe1\xff\x03"  # §6.3: max size 65,536 > our 4,096
        peer.send(HEADERS, END_HEADERS | END_STREAM, request.stream_id, update + status_block(201))

    async with RawServer(trusted, oversize) as server, push_client() as client:
        outcome = await send(client, server.url("/p/0"))
    assert (outcome.verdict, outcome.status) == (Verdict.RETRY, 0)
    assert "compression" in outcome.reason and len(server.requests) == 1


async def test_ping_flood_and_settings_never_acknowledged_still_answer(trusted: Path) -> None:
    """The server never ACKs our SETTINGS, sends 5,000 PINGs and 200 SETTINGS before each
    answer, and big DATA bodies past the window we granted: every PING is answered, and the
    answers count."""

    acked = []

    async def noisy(peer: RawPeer) -> None:
        peer.ack_settings = False
        await peer.start()
        while (request := await peer.request()) is not None:
            acked.append(sum(k == PING and f & ACK for k, f, _ in peer.frames))
            for n in range(5000):
                peer.send(PING, 0, 0, struct.pack(">Q", n))
            for _ in range(200):
                peer.send(SETTINGS, 0, 0, settings_payload({MAX_CONCURRENT_STREAMS: 100}))
            status = literal(b":status", b"201")
            peer.send(HEADERS, END_HEADERS, request.stream_id, status)
            for _ in range(1100):  # 17.6 MB: past the 16 MB window granted, never waiting
                peer.send(DATA, 0, request.stream_id, b"z" * 16000)
                await peer.writer.drain()
            peer.send(DATA, END_STREAM, request.stream_id, b"end")
            request.answered = 201

    async with RawServer(trusted, noisy) as server, push_client(timeout=20.0) as client:
        outcomes = [await send(client, server.url(f"/p/{n}")) for n in range(2)]
        await asyncio.sleep(0.1)
    assert [(o.verdict, o.status) for o in outcomes] == [(Verdict.ACCEPTED, 201)] * 2
    assert len(server.requests) == 2 and acked == [0, 5000]


# SETTINGS and flow control


@pytest.mark.parametrize("limit", [1, 0])
async def test_max_concurrent_streams_lowered_mid_flight(trusted: Path, limit: int) -> None:
    """After 5 answers the server lowers MAX_CONCURRENT_STREAMS and refuses streams past it
    once acknowledged; new connections enforce it from their first stream (nginx does), their
    SETTINGS a round trip away. 20 more requests then go one stream at a time per connection,
    none refused (limit 1: a new connection must not assume 100 streams when the others say
    1), or, with 0, end as errors within their timeout, none processed."""
    peers: list[RawPeer] = []

    async def lowering(peer: RawPeer) -> None:
        peers.append(peer)
        if peer.number:
            # A new connection, a round trip away: the client's first streams cross our
            # SETTINGS, and the limit holds from the first stream, as nginx's does.
            peer.limit = limit
            peer.settings_acked.set()
            assert await peer.reader.readexactly(len(PREFACE)) == PREFACE
            while not peer.pending and not peer.refused:
                got = await peer.read_frame()
                assert got is not None
                peer._handle(*got)
            peer.send(SETTINGS, 0, 0, settings_payload({MAX_CONCURRENT_STREAMS: limit}))
        else:
            await peer.start()
        while requests := await peer.arrived():
            if peer.number == 0 and len(peer.server.requests) == 5:
                peer.send(SETTINGS, 0, 0, settings_payload({MAX_CONCURRENT_STREAMS: limit}))
                peer.settings_acked.clear()
                peer.limit = limit
            for request in requests:
                peer.answer(request, 201)

    async with RawServer(trusted, lowering) as server, push_client(timeout=1.0) as client:
        first = [await send(client, server.url(f"/first/{n}")) for n in range(5)]
        loop = asyncio.get_running_loop()
        started = loop.time()
        outcomes = await send_many(client, server, 20, b"b" * 100)
        elapsed = loop.time() - started
    assert [(o.verdict, o.status) for o in first] == [(Verdict.ACCEPTED, 201)] * 5
    if limit == 1:
        assert set(verdicts(outcomes).values()) == {(Verdict.ACCEPTED, 201)}
        assert sorted(r.path for r in server.requests[5:]) == sorted(outcomes)
        assert all(peer.most_open == 1 for peer in peers), [p.most_open for p in peers]
        assert [p.refused for p in peers] == [[]] * len(peers)  # new ones learnt the limit
    else:
        assert set(verdicts(outcomes).values()) == {(Verdict.RETRY, 0)}
        assert len(server.requests) == 5 and elapsed < 2.0
        assert server.connections <= 5


async def test_initial_window_lowered_to_0_then_raised(trusted: Path) -> None:
    """SETTINGS_INITIAL_WINDOW_SIZE 0 mid-flight: five 4 KB bodies wait (their HEADERS go, no
    DATA) until the server raises it again, then arrive whole."""
    bodies = {f"/p/{n}": bytes([n]) * 4096 for n in range(5)}
    early_data = []

    async def window_0(peer: RawPeer) -> None:
        await peer.start()
        first = await peer.request()
        assert first is not None
        peer.send(SETTINGS, 0, 0, settings_payload({INITIAL_WINDOW_SIZE: 0}))
        peer.answer(first, 201)
        while len(peer.heads) < 5:
            got = await peer.read_frame()
            assert got is not None
            peer._handle(*got)
        early_data.append(sum(k == DATA and sid > first.stream_id for k, _, sid in peer.frames))
        peer.send(SETTINGS, 0, 0, settings_payload({INITIAL_WINDOW_SIZE: 65_535}))
        for request in await peer.requests(5):
            peer.answer(request, 201)

    async with RawServer(trusted, window_0) as server, push_client() as client:
        assert (await send(client, server.url("/first"))).verdict is Verdict.ACCEPTED
        sends = [send(client, server.url(path), body) for path, body in bodies.items()]
        outcomes = await asyncio.gather(*sends)
    assert [(o.verdict, o.status) for o in outcomes] == [(Verdict.ACCEPTED, 201)] * 5
    assert {r.path: r.body for r in server.requests[1:]} == bodies
    assert early_data == [0]


async def test_connection_window_never_updated_times_out_what_cannot_go(trusted: Path) -> None:
    """The server never sends WINDOW_UPDATE: 30 bodies of 4 KB, 15 fit the 64 KB window and are
    answered; the others time out (not hang), and none of them counts as accepted."""

    async def stingy(peer: RawPeer) -> None:
        peer.ack_data = False
        await peer.start()
        while (request := await peer.request()) is not None:
            peer.answer(request, 201)

    async with RawServer(trusted, stingy) as server, push_client(timeout=1.0) as client:
        started = asyncio.get_running_loop().time()
        outcomes = await send_many(client, server, 30, b"w" * 4096)
        elapsed = asyncio.get_running_loop().time() - started
    accepted = {p for p, o in outcomes.items() if o.verdict is Verdict.ACCEPTED}
    assert accepted == {r.path for r in server.requests} and len(accepted) == 15
    others = [o for p, o in outcomes.items() if p not in accepted]
    assert all(o.reason.startswith("TimeoutError") for o in others), others
    assert elapsed < 2.5


# Servers that stop speaking HTTP/2, or at all


async def test_h2_negotiated_then_http11_spoken_is_an_error_once(trusted: Path) -> None:
    """ALPN says h2, then the server answers in HTTP/1.1: every request fails as a protocol
    error, and none is written twice (the raw bytes received hold each path once)."""
    received = bytearray()

    async def http11(peer: RawPeer) -> None:
        peer.writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        while data := await peer.reader.read(65536):
            received.extend(data)

    async with RawServer(trusted, http11) as server, push_client() as client:
        outcomes = await send_many(client, server, 5)
        more = [await send(client, server.url(f"/q/{n}")) for n in range(3)]
    assert set(verdicts(outcomes).values()) == {(Verdict.RETRY, 0)}
    assert {(o.verdict, o.status) for o in more} == {(Verdict.RETRY, 0)}
    assert all("protocol error" in o.reason for o in [*outcomes.values(), *more])
    paths = [*outcomes, *(f"/q/{n}" for n in range(3))]
    assert [bytes(received).count(p.encode()) for p in paths] == [1] * 8


async def test_server_silent_after_the_preface_times_out(trusted: Path) -> None:
    async def silent(peer: RawPeer) -> None:
        assert await peer.reader.readexactly(len(PREFACE)) == PREFACE
        await peer.drain_to_eof()

    async with RawServer(trusted, silent) as server, push_client(timeout=1.0) as client:
        started = asyncio.get_running_loop().time()
        outcomes = await send_many(client, server, 5)
        elapsed = asyncio.get_running_loop().time() - started
    assert all(o.reason.startswith("TimeoutError") for o in outcomes.values()), outcomes
    assert 0.9 < elapsed < 2.0 and server.connections == 1


async def test_tls_handshake_that_never_ends_is_inside_the_timeout(trusted: Path) -> None:
    async with (
        RawServer(trusted, answer_all, handshake=False) as server,
        push_client(timeout=1.0) as client,
    ):
        started = asyncio.get_running_loop().time()
        outcomes = await send_many(client, server, 20)
        elapsed = asyncio.get_running_loop().time() - started
    assert all(o.reason.startswith("TimeoutError") for o in outcomes.values()), outcomes
    assert 0.9 < elapsed < 2.0


async def test_one_stuck_stream_times_out_alone(trusted: Path) -> None:
    async def stuck_on_3(peer: RawPeer) -> None:
        await peer.start()
        while (request := await peer.request()) is not None:
            if request.path != "/p/3":
                peer.answer(request, 201)

    async with RawServer(trusted, stuck_on_3) as server, push_client(timeout=1.0) as client:
        outcomes = await send_many(client, server, 20)
        after = await send(client, server.url("/after"))
    assert outcomes.pop("/p/3").reason.startswith("TimeoutError")
    assert set(verdicts(outcomes).values()) == {(Verdict.ACCEPTED, 201)}
    assert after.verdict is Verdict.ACCEPTED
    assert len(server.requests) == 21 and server.connections == 1


async def test_10000_sequential_requests_leave_no_state_behind(trusted: Path) -> None:
    """Streams, blocked bodies, HPACK tables and their caches stay bounded on one connection."""
    async with RawServer(trusted, answer_all) as server, push_client() as client:
        for n in range(10_000):
            outcome = await send(client, server.url(f"/p/{n}"), b"m" * (n % 300))
            assert outcome.verdict is Verdict.ACCEPTED, (n, outcome)
        (connection,) = h2_connections(client)
        state = {
            "streams": len(connection.streams),
            "blocked": len(connection._blocked),
            "out": len(connection._out),
            "decoder entries": len(connection._decoder._entries),
            "decoder cache": len(connection._decoder._cache),
            "encoder entries": len(connection._encoder._entries),
            "encoder cache": len(connection._encoder._cache),
            "reader buffer": len(connection._reader._buffer),
        }
        (origin,) = client._http._origins()
        budget = (origin.free, len(origin.queue), len(origin.connections))
    assert len(server.requests) == 10_000 and server.connections == 1
    assert state["streams"] == state["blocked"] == state["out"] == state["reader buffer"] == 0
    assert state["decoder cache"] <= 2 and state["encoder cache"] <= 2, state
    assert state["decoder entries"] == 0 and state["encoder entries"] <= 8, state
    assert budget == (100, 0, 1)


async def test_streams_of_an_origin_that_stopped_offering_h2_still_time_out(
    trusted: Path,
) -> None:
    """One stream hangs on the first connection (MAX_CONCURRENT_STREAMS 1); the next request
    needs a new connection, whose ALPN now says http/1.1, so the client learns the origin
    anew: the hanging stream on the old connection must still time out, not wait for ever."""

    async def one_stream_then_http11(peer: RawPeer) -> None:
        if peer.number:
            await peer.reader.read()
            return
        await peer.start({MAX_CONCURRENT_STREAMS: 1})
        await peer.request()  # /hang: never answered
        peer.server.tls.set_alpn_protocols(["http/1.1"])  # the next handshakes
        await peer.drain_to_eof()

    async with (
        RawServer(trusted, one_stream_then_http11) as server,
        push_client(timeout=1.0) as client,
    ):
        hanging = asyncio.create_task(send(client, server.url("/hang")))
        while not any(c.max_streams == 1 for c in h2_connections(client)):
            await asyncio.sleep(0.01)
        refused = await send(client, server.url("/next"))
        hung = await asyncio.wait_for(hanging, 5.0)
    assert "no longer offers HTTP/2" in refused.reason
    assert hung.reason.startswith("TimeoutError"), hung
    assert [r.path for r in server.requests] == ["/hang"]


async def test_a_connection_gone_silent_is_abandoned_not_used_for_ever(trusted: Path) -> None:
    """The first connection answers three requests, then goes dark: nothing more is read or
    written, as a connection a NAT or load balancer dropped without a word. After a stream
    times out on it, the client must find out (PING unanswered) and move to a new connection,
    not send every later request into it to time out as well."""

    async def dark_after_3(peer: RawPeer) -> None:
        await peer.start()
        if peer.number == 0:
            for _ in range(3):
                peer.answer((await peer.requests(1))[0], 201)
            await peer.request()  # /stuck: read, never answered; nothing more is read
            await asyncio.Event().wait()
        while (request := await peer.request()) is not None:
            peer.answer(request, 201)

    async with RawServer(trusted, dark_after_3) as server, push_client(timeout=0.5) as client:
        first = [await send(client, server.url(f"/p/{n}")) for n in range(3)]
        stuck = await send(client, server.url("/stuck"))
        later = [await send(client, server.url(f"/later/{n}")) for n in range(6)]
    assert [o.verdict for o in first] == [Verdict.ACCEPTED] * 3
    assert stuck.reason.startswith("TimeoutError")
    assert [o.verdict for o in later[-4:]] == [Verdict.ACCEPTED] * 4, [o.reason for o in later]
    assert server.connections == 2 and len(server.seen("/stuck")) == 1


BURST_SECONDS = 0.2  # a server busy for a moment: the client's burst is all in when it reads


@pytest.mark.parametrize(
    ("limit", "refuse_code"), [(1, REFUSED_STREAM), (10, REFUSED_STREAM), (10, PROTOCOL_ERROR)]
)
async def test_a_first_connection_opens_one_stream_until_the_server_settings(
    trusted: Path, limit: int, refuse_code: int
) -> None:
    """nginx-style: MAX_CONCURRENT_STREAMS enforced from the first stream, the SETTINGS a round
    trip away, streams past it refused (REFUSED_STREAM) or reset as a protocol error (RFC 9113
    §5.1.2 allows both; the second is not resent). The client opens one stream until the
    server's SETTINGS arrive (§6.5.2: the limit is unknown until then), so no stream is refused
    and every request goes once. Before: 19 of 20 refused, or 40 of 50 failed outright."""
    peers: list[RawPeer] = []

    async def limited_from_the_start(peer: RawPeer) -> None:
        peers.append(peer)
        peer.limit, peer.refuse_code = limit, refuse_code
        peer.settings_acked.set()
        assert await peer.reader.readexactly(len(PREFACE)) == PREFACE
        while not peer.pending and not peer.refused:
            got = await peer.read_frame()
            assert got is not None
            peer._handle(*got)
        peer.send(SETTINGS, 0, 0, settings_payload({MAX_CONCURRENT_STREAMS: limit}))
        await asyncio.sleep(BURST_SECONDS)  # what the client sent meanwhile is all here
        while requests := await peer.arrived():
            for request in requests:
                peer.answer(request, 201)

    count = 20 if limit == 1 else 50
    async with RawServer(trusted, limited_from_the_start) as server, push_client() as client:
        outcomes = await send_many(client, server, count)
    assert set(verdicts(outcomes).values()) == {(Verdict.ACCEPTED, 201)}
    assert sorted(r.path for r in server.requests) == sorted(outcomes)  # processed once each
    assert [p.refused for p in peers] == [[]] * len(peers)
    assert all(0 < p.most_open <= limit for p in peers), [p.most_open for p in peers]


async def test_header_table_size_0_keeps_both_tables_in_step(trusted: Path) -> None:
    """SETTINGS_HEADER_TABLE_SIZE 0 after the client's first burst used the dynamic table:
    every later header block must decode to the same headers with an empty table."""

    async def no_table(peer: RawPeer) -> None:
        await peer.start()
        for request in await peer.requests(5):
            peer.answer(request, 201)
        peer.send(SETTINGS, 0, 0, settings_payload({1: 0}))  # HEADER_TABLE_SIZE
        while (request := await peer.request()) is not None:
            peer.decoder.max_allowed_table_size = 0  # a size update above 0 fails decoding
            peer.answer(request, 201)

    async with RawServer(trusted, no_table) as server, push_client() as client:
        first = await send_many(client, server, 5)
        later = [await send(client, server.url(f"/q/{n}")) for n in range(20)]
        table = h2_connections(client)[0]._encoder._entries
    assert set(verdicts(first).values()) == {(Verdict.ACCEPTED, 201)}
    assert [(o.verdict, o.status) for o in later] == [(Verdict.ACCEPTED, 201)] * 20
    assert len(server.requests) == 25 and len(table) == 0
    expected = {"authorization": "vapid t=token, k=key", "ttl": "60", "urgency": "high"}
    for request in server.requests:
        assert {name: request.headers[name] for name in expected} == expected
        assert request.headers[":authority"] == f"127.0.0.1:{server.port}"


# What the sender's statistics and pacing read: the answer time


HOLD_SECONDS = 0.6  # the server holds back its window (or its answer) this long


async def test_seconds_count_from_the_write_not_from_a_wait_for_the_window(
    trusted: Path,
) -> None:
    """A 4 KB body waits for the server's stream window (SETTINGS_INITIAL_WINDOW_SIZE 0) for
    HOLD_SECONDS, then the server answers the moment the body is in: the answer time is from
    the request's write, not from its wait for a window (before: ≥ HOLD_SECONDS)."""

    async def window_held(peer: RawPeer) -> None:
        await peer.start()
        first = await peer.request()
        assert first is not None
        peer.send(SETTINGS, 0, 0, settings_payload({INITIAL_WINDOW_SIZE: 0}))
        peer.answer(first, 201)
        while not peer.heads:
            got = await peer.read_frame()
            assert got is not None
            peer._handle(*got)
        await asyncio.sleep(HOLD_SECONDS)
        peer.send(SETTINGS, 0, 0, settings_payload({INITIAL_WINDOW_SIZE: 65_535}))
        while (request := await peer.request()) is not None:
            peer.answer(request, 201)

    async with RawServer(trusted, window_held) as server, push_client() as client:
        headers = client.headers("vapid t=token, k=key", 60, "high", None)
        await client.send(server.url("/first"), b"x", headers)
        started = asyncio.get_running_loop().time()
        outcome, seconds = await client.send_timed(server.url("/held"), b"h" * 4096, headers)
        elapsed = asyncio.get_running_loop().time() - started
    assert (outcome.verdict, outcome.status) == (Verdict.ACCEPTED, 201)
    assert elapsed >= HOLD_SECONDS and seconds < HOLD_SECONDS / 2, (elapsed, seconds)
    assert [r.body for r in server.seen("/held")] == [b"h" * 4096]


async def test_seconds_count_from_the_write_not_from_a_wait_in_the_queue(trusted: Path) -> None:
    """One request in flight per push service: the second waits HOLD_SECONDS in the client's
    queue for the first one's slot, then is answered at once: its answer time is its own."""

    async def one_stream(peer: RawPeer) -> None:
        await peer.start()
        first = await peer.request()
        assert first is not None
        await asyncio.sleep(HOLD_SECONDS)
        peer.answer(first, 201)
        while (request := await peer.request()) is not None:
            peer.answer(request, 201)

    async with RawServer(trusted, one_stream) as server, push_client(per_host=1) as client:
        headers = client.headers("vapid t=token, k=key", 60, "high", None)
        sends = [client.send_timed(server.url(f"/p/{n}"), b"x", headers) for n in range(2)]
        (first, first_seconds), (second, second_seconds) = await asyncio.gather(*sends)
    assert {first.verdict, second.verdict} == {Verdict.ACCEPTED}
    assert first_seconds >= HOLD_SECONDS > HOLD_SECONDS / 2 > second_seconds
    assert [r.path for r in server.requests] == ["/p/0", "/p/1"]


# Pause and stop (sender.PushClient.pause, stop_new) hold a resend as they hold a first send


@pytest.mark.parametrize("refusal", ["REFUSED_STREAM", "GOAWAY"])
async def test_a_resend_waits_while_paused_and_stops_with_the_client(
    trusted: Path, refusal: str
) -> None:
    """The server reads the request; the client is paused (its outcomes cannot be recorded);
    then the server refuses the stream, unprocessed. The resend must wait like a first send,
    and stop_new ends it unsent (ClientStopping: it stays pending for the next start).
    Before: sent again at once, paused or not."""
    read, refuse = threading.Event(), threading.Event()

    async def refuse_when_told(peer: RawPeer) -> None:
        await peer.start()
        request = await peer.request()
        assert request is not None
        read.set()
        assert await asyncio.to_thread(refuse.wait, 5)
        if refusal == "GOAWAY":
            peer.send(GOAWAY, 0, 0, goaway(0))
        else:
            peer.send(RST_STREAM, 0, request.stream_id, struct.pack(">L", REFUSED_STREAM))
        while (request := await peer.request()) is not None:
            peer.answer(request, 201)

    async with RawServer(trusted, refuse_when_told, answer_all) as server, push_client() as c:
        sending = asyncio.create_task(send(c, server.url("/refused")))
        assert await asyncio.to_thread(read.wait, 5)
        connection = h2_connections(c)[0]
        c.pause(True)
        refuse.set()
        while 1 in connection.streams:  # until the client has read the refusal
            await asyncio.sleep(0.01)
        c.stop_new()
        with pytest.raises(ClientStopping):
            await sending
    assert len(server.seen("/refused")) == 1


async def test_a_resend_after_a_pause_goes_once_resumed(trusted: Path) -> None:
    """As above with REFUSED_STREAM, then the pause ends: the resend goes, once, and is
    accepted."""
    read, refuse = threading.Event(), threading.Event()

    async def refuse_first(peer: RawPeer) -> None:
        await peer.start()
        request = await peer.request()
        assert request is not None
        read.set()
        assert await asyncio.to_thread(refuse.wait, 5)
        peer.send(RST_STREAM, 0, request.stream_id, struct.pack(">L", REFUSED_STREAM))
        while (request := await peer.request()) is not None:
            peer.answer(request, 201)

    async with RawServer(trusted, refuse_first) as server, push_client() as client:
        sending = asyncio.create_task(send(client, server.url("/refused")))
        assert await asyncio.to_thread(read.wait, 5)
        connection = h2_connections(client)[0]
        client.pause(True)
        refuse.set()
        while 1 in connection.streams:
            await asyncio.sleep(0.01)
        client.pause(False)
        outcome = await sending
    assert (outcome.verdict, outcome.status) == (Verdict.ACCEPTED, 201)
    assert len(server.seen("/refused")) == 2
