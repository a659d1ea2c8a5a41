"""A scripted HTTP/2 push service over TLS on loopback, built with the `h2` library.

It counts every complete request (END_STREAM received) and hands it to the script, which
answers it, or not, as the test wants: plain answers, 103 before 201, a header block split
into CONTINUATION frames, RST_STREAM, GOAWAY, a dropped connection. It runs in a thread with
its own asyncio loop, like tests/webpush/scripted_server.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import h2.config
import h2.connection
import h2.events
import h2.settings
from hyperframe.frame import ContinuationFrame, HeadersFrame

from tests.webpush.scripted_server import self_signed_tls

T = TypeVar("T")


@dataclass
class Request:
    connection: int
    stream_id: int
    path: str
    headers: dict[str, str]
    body: bytes = b""
    answered: int = 0


Script = Callable[["H2Peer", Request], Awaitable[None]]


async def created(peer: H2Peer, request: Request) -> None:
    peer.answer(request, 201)


@dataclass
class H2Peer:
    """The server's end of one connection."""

    server: H2Server
    number: int
    writer: asyncio.StreamWriter
    conn: h2.connection.H2Connection
    bodies: dict[int, bytearray] = field(default_factory=dict)
    heads: dict[int, dict[str, str]] = field(default_factory=dict)

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.writer.write(data)

    def answer(self, request: Request, status: int, body: bytes = b"", headers: tuple = ()) -> None:
        request.answered = status
        fields = [(":status", str(status)), ("content-length", str(len(body))), *headers]
        self.conn.send_headers(request.stream_id, fields, end_stream=not body)
        if body:
            self.conn.send_data(request.stream_id, body, end_stream=True)
        self.flush()

    def interim(self, request: Request, status: int) -> None:
        self.conn.send_headers(request.stream_id, [(":status", str(status))])
        self.flush()

    def answer_in_continuations(self, request: Request, status: int, pieces: int) -> None:
        """The answer's header block split over a HEADERS frame and CONTINUATION frames."""
        request.answered = status
        filler = [(f"x-filler-{n}", "v" * 40) for n in range(pieces * 2)]
        block = self.conn.encoder.encode([(":status", str(status)), *filler])
        size = -(-len(block) // pieces)
        chunks = [block[at : at + size] for at in range(0, len(block), size)]
        frames = []
        first = HeadersFrame(request.stream_id, data=chunks[0])
        first.flags.add("END_STREAM")
        frames.append(first.serialize())
        for number, chunk in enumerate(chunks[1:], 2):
            frame = ContinuationFrame(request.stream_id, data=chunk)
            if number == len(chunks):
                frame.flags.add("END_HEADERS")
            frames.append(frame.serialize())
        # h2 believes the stream still open: close it on its side without writing anything
        self.conn.reset_stream(request.stream_id)
        self.conn.data_to_send()
        self.writer.write(b"".join(frames))

    def reset(self, request: Request, code: int) -> None:
        self.conn.reset_stream(request.stream_id, code)
        self.flush()

    def goaway(self, last_stream_id: int) -> None:
        self.conn.close_connection(last_stream_id=last_stream_id)
        self.flush()

    def drop(self) -> None:
        self.writer.transport.abort()


class H2Server:
    """Listens on 127.0.0.1 over TLS (ALPN h2); `script` answers each request."""

    def __init__(
        self,
        tmp_path: Path,
        script: Script = created,
        *,
        settings: dict[int, int] | None = None,
        ack_data: bool = True,
    ) -> None:
        self.tls, self.ca_file = self_signed_tls(tmp_path)
        self.tls.set_alpn_protocols(["h2"])
        self.script, self.settings, self.ack_data = script, settings or {}, ack_data
        self.requests: list[Request] = []
        self.connections = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def seen(self, path: str) -> list[Request]:
        return [request for request in self.requests if request.path == path]

    async def __aenter__(self) -> H2Server:
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
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self.tls)
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
        config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        conn = h2.connection.H2Connection(config)
        conn.initiate_connection()
        if self.settings:
            conn.update_settings(self.settings)
        peer = H2Peer(self, number, writer, conn)
        peer.flush()
        with contextlib.suppress(ConnectionError, ssl.SSLError, asyncio.CancelledError):
            while data := await reader.read(65536):
                for event in conn.receive_data(data):
                    self._event(peer, event)
                peer.flush()
        writer.transport.abort()

    def _event(self, peer: H2Peer, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            peer.heads[event.stream_id] = dict(event.headers)  # type: ignore[arg-type]
            peer.bodies[event.stream_id] = bytearray()
        elif isinstance(event, h2.events.DataReceived):
            peer.bodies[event.stream_id] += event.data
            if self.ack_data:
                peer.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            head = peer.heads.pop(event.stream_id)
            body = bytes(peer.bodies.pop(event.stream_id))
            request = Request(peer.number, event.stream_id, head[":path"], head, body)
            self.requests.append(request)
            task = asyncio.get_running_loop().create_task(self.script(peer, request))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
