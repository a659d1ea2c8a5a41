"""The local push service's HTTP/2 side (RFC 9113), on the `h2` library's state machine.

Each request stream is answered by the same `PushHandler.answer` as the HTTP/1.1 side, in a task
of its own: an injected fault's delay holds back its own stream, never the connection's others.
Only pushes are served over HTTP/2; the WebSocket side and `/_test/` stay on HTTP/1.1.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from multidict import CIMultiDict

from pushgate.testing.replies import UNKNOWN_ERRNO, PushAnswer, error_answer

log = logging.getLogger(__name__)

H2 = "h2"  # the ALPN name (RFC 9113 §3.2)
DEFAULT_MAX_CONCURRENT_STREAMS = 100  # what FCM announces, and h2's own default
MAX_HEADER_LIST_BYTES = 65536

Answerer = Callable[[str, str, Mapping[str, str], bytes, str], Awaitable[PushAnswer]]


@dataclass
class _Request:
    pseudo: dict[str, str]
    headers: CIMultiDict[str]
    body: bytearray = field(default_factory=bytearray)


class H2ServerConnection(asyncio.Protocol):
    """One HTTP/2 connection, after the TLS handshake chose `h2`."""

    def __init__(
        self,
        answer: Answerer,
        *,
        max_concurrent_streams: int = DEFAULT_MAX_CONCURRENT_STREAMS,
        on_close: Callable[[H2ServerConnection], None] | None = None,
    ) -> None:
        self._answer = answer
        self._on_close = on_close
        config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self._h2 = h2.connection.H2Connection(config=config)
        self._h2.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: max_concurrent_streams,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: MAX_HEADER_LIST_BYTES,
            },
        )
        self._transport: asyncio.Transport | None = None
        self._requests: dict[int, _Request] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._unsent: dict[int, bytes] = {}  # answer bytes waiting for flow-control window

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._h2.initiate_connection()
        self._flush()

    def data_received(self, data: bytes) -> None:
        try:
            events = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError:
            self._flush()  # the GOAWAY h2 queued
            self.close()
            return
        for event in events:
            self._on_event(event)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
        if self._on_close is not None:
            self._on_close(self)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _on_event(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            self._requests[event.stream_id] = _request_of(event.headers or [])
        elif isinstance(event, h2.events.DataReceived):
            request = self._requests.get(event.stream_id)
            if request is not None:
                request.body += event.data or b""
            # The body is consumed at once: give the window back (RFC 9113 §5.2).
            self._h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            self._start(event.stream_id)
        elif isinstance(event, h2.events.StreamReset):
            self._forget(event.stream_id)
        elif isinstance(event, h2.events.WindowUpdated):
            waiting = [event.stream_id] if event.stream_id else list(self._unsent)
            for stream_id in waiting:
                self._send_body(stream_id)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.close()

    def _start(self, stream_id: int) -> None:
        request = self._requests.pop(stream_id, None)
        if request is None:
            return
        task = asyncio.get_running_loop().create_task(self._serve(stream_id, request))
        self._tasks[stream_id] = task

    async def _serve(self, stream_id: int, request: _Request) -> None:
        method, path = request.pseudo.get(":method", ""), request.pseudo.get(":path", "")
        try:
            answer = await self._answer(
                method, path.split("?", 1)[0], request.headers, bytes(request.body), H2
            )
        except Exception:
            log.exception("answering HTTP/2 stream %d", stream_id)
            answer = error_answer(500, UNKNOWN_ERRNO, "the local push service failed")
        finally:
            self._tasks.pop(stream_id, None)
        if self._transport is None:
            return
        self._respond(stream_id, answer)
        self._flush()

    def _respond(self, stream_id: int, answer: PushAnswer) -> None:
        headers = [(":status", str(answer.status))]
        headers += [(name.lower(), value) for name, value in answer.headers.items()]
        headers.append(("content-length", str(len(answer.body))))
        try:
            self._h2.send_headers(stream_id, headers, end_stream=not answer.body)
        except h2.exceptions.StreamClosedError:
            return  # the client reset the stream while it waited
        if answer.body:
            self._unsent[stream_id] = answer.body
            self._send_body(stream_id)

    def _send_body(self, stream_id: int) -> None:
        data = self._unsent.pop(stream_id, b"")
        try:
            while data:
                window = self._h2.local_flow_control_window(stream_id)
                size = min(window, self._h2.max_outbound_frame_size)
                if size <= 0:
                    self._unsent[stream_id] = data  # sent when the client opens the window
                    return
                chunk, data = data[:size], data[size:]
                self._h2.send_data(stream_id, chunk, end_stream=not data)
        except h2.exceptions.StreamClosedError:
            return

    def _forget(self, stream_id: int) -> None:
        self._requests.pop(stream_id, None)
        self._unsent.pop(stream_id, None)
        task = self._tasks.pop(stream_id, None)
        if task is not None:
            task.cancel()

    def _flush(self) -> None:
        data = self._h2.data_to_send()
        if data and self._transport is not None:
            self._transport.write(data)


def _request_of(header_list: list[tuple[str, str]] | list[tuple[bytes, bytes]]) -> _Request:
    pseudo: dict[str, str] = {}
    headers: CIMultiDict[str] = CIMultiDict()
    for raw_name, raw_value in header_list:
        name = raw_name.decode() if isinstance(raw_name, bytes) else raw_name
        value = raw_value.decode() if isinstance(raw_value, bytes) else raw_value
        if name.startswith(":"):
            pseudo[name] = value
        else:
            headers.add(name, value)
    return _Request(pseudo, headers)
