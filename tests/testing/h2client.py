"""A small HTTP/2 client on the `h2` library, for the local push service's own tests: one TLS
connection (ALPN h2, the service's CA trusted), many concurrent streams, flow control honoured."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.events
from multidict import CIMultiDict

from pushgate.testing import LocalPushService
from tests.testing.pushing import Answer

READ_BYTES = 65536
SETTINGS_TIMEOUT_SECONDS = 10


@dataclass
class _Stream:
    done: asyncio.Future[Answer]
    status: int = 0
    headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    body: bytearray = field(default_factory=bytearray)


class H2Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self._h2 = h2.connection.H2Connection(config=config)
        self._streams: dict[int, _Stream] = {}
        self._window_opened = asyncio.Event()
        self._stream_closed = asyncio.Event()
        self._settings_received = asyncio.Event()
        self._h2.initiate_connection()
        self._flush()
        self._reading = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, service: LocalPushService) -> H2Client:
        assert service.ca_cert is not None, "the service must run with tls=True"
        context = ssl.create_default_context(cafile=str(service.ca_cert))
        context.set_alpn_protocols(["h2"])
        reader, writer = await asyncio.open_connection(service.host, service.port, ssl=context)
        alpn = writer.get_extra_info("ssl_object").selected_alpn_protocol()
        assert alpn == "h2", f"the service chose {alpn!r}"
        client = cls(reader, writer)
        # Its stream limit comes in its first SETTINGS frame (RFC 9113 §3.4): wait for it.
        await asyncio.wait_for(client._settings_received.wait(), SETTINGS_TIMEOUT_SECONDS)
        return client

    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """POST on a new stream; returns when its answer is complete."""
        stream_id = await self.start("POST", url, headers, body)
        return await self._streams[stream_id].done

    async def start(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> int:
        """Send a request on a new stream and return its id; `answer(id)` waits for the answer."""
        parts = urlsplit(url)
        request = [
            (":method", method),
            (":scheme", parts.scheme),
            (":authority", parts.netloc),
            (":path", parts.path),
        ]
        request += [(name.lower(), value) for name, value in headers.items()]
        while self._h2.open_outbound_streams >= self.max_concurrent_streams:
            self._stream_closed.clear()
            await self._stream_closed.wait()
        stream_id = self._h2.get_next_available_stream_id()
        self._streams[stream_id] = _Stream(asyncio.get_running_loop().create_future())
        self._h2.send_headers(stream_id, request, end_stream=not body)
        await self._send_body(stream_id, body)
        return stream_id

    @property
    def max_concurrent_streams(self) -> int:
        """What the service announced in its SETTINGS (RFC 9113 §6.5.2)."""
        return int(self._h2.remote_settings.max_concurrent_streams)

    def answer(self, stream_id: int) -> asyncio.Future[Answer]:
        return self._streams[stream_id].done

    async def close(self) -> None:
        self._reading.cancel()
        self._writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self._writer.wait_closed()

    async def _send_body(self, stream_id: int, body: bytes) -> None:
        while body:
            size = min(
                self._h2.local_flow_control_window(stream_id), self._h2.max_outbound_frame_size
            )
            if size <= 0:
                self._window_opened.clear()
                await self._window_opened.wait()
                continue
            chunk, body = body[:size], body[size:]
            self._h2.send_data(stream_id, chunk, end_stream=not body)
            self._flush()
        self._flush()

    async def _read(self) -> None:
        while data := await self._reader.read(READ_BYTES):
            for event in self._h2.receive_data(data):
                self._on_event(event)
            self._flush()
        for stream in self._streams.values():
            if not stream.done.done():
                stream.done.set_exception(ConnectionError("the service closed the connection"))

    def _on_event(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.ResponseReceived):
            stream = self._streams[event.stream_id]
            for name, value in event.headers or []:
                if name == ":status":
                    stream.status = int(value)
                else:
                    stream.headers.add(str(name), str(value))
        elif isinstance(event, h2.events.DataReceived):
            self._streams[event.stream_id].body += event.data or b""
            self._h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            stream = self._streams[event.stream_id]
            stream.done.set_result(Answer(stream.status, stream.headers, stream.body.decode()))
            self._stream_closed.set()
        elif isinstance(event, h2.events.StreamReset):
            self._streams[event.stream_id].done.set_exception(ConnectionError("stream reset"))
            self._stream_closed.set()
        elif isinstance(event, h2.events.WindowUpdated):
            self._window_opened.set()
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            self._settings_received.set()

    def _flush(self) -> None:
        self._writer.write(self._h2.data_to_send())
