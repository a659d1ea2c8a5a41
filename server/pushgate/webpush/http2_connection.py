"""One HTTP/2 connection to a push service (RFC 9113), carrying many POSTs at once.

Frames of requests made in the same turn of the event loop leave in one TLS write. Send-side
flow control keeps within the stream and connection windows (§6.9), waiting for WINDOW_UPDATE;
received DATA is given back with WINDOW_UPDATE. A stream the push service provably did not
process (above a GOAWAY's last stream id, refused with REFUSED_STREAM, §8.7, or never written
before the connection closed) fails with `Unprocessed`: only those may be sent again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import cast

from pushgate.webpush import http2_frames as f
from pushgate.webpush.http1_connection import EXCERPT_BYTES, BadResponse
from pushgate.webpush.http2_header_frames import MAX_HEADER_BLOCK_BYTES, HeaderFrames
from pushgate.webpush.http2_hpack import DecodeError, HeaderBlock, RequestEncoder, ResponseDecoder
from pushgate.webpush.http2_stream import Stream, StreamReset, Unprocessed, answer_status

# RFC 9113 §6.5.2: MAX_CONCURRENT_STREAMS is unlimited until the peer's SETTINGS say otherwise,
# but a server may enforce its limit from the first stream (nginx does), refusing the rest of a
# burst (REFUSED_STREAM) or resetting it as a protocol error. So a connection opens one stream
# until the peer's first SETTINGS arrive (a round trip), unless the origin's other connections
# tell the limit; SETTINGS that name no limit allow this many (§6.5.2 recommends ≥ 100).
STREAMS_BEFORE_SETTINGS = 1
ASSUMED_MAX_STREAMS = 100
RECEIVE_WINDOW = 1 << 24  # bytes: the connection and stream windows we grant (answers are small)
_PROBE = b"pushgate"  # a PING's 8 bytes, sent when a stream times out
_OUR_SETTINGS = {
    f.ENABLE_PUSH: 0,
    f.INITIAL_WINDOW_SIZE: RECEIVE_WINDOW,
    f.MAX_HEADER_LIST_SIZE: MAX_HEADER_BLOCK_BYTES,
}


class Http2Connection(asyncio.Protocol):
    """The client end of one HTTP/2 connection; `on_change` is called when streams free up,
    the connection's limits change, or it closes."""

    def __init__(
        self,
        host: str,
        port: int,
        authority: bytes,
        on_change: Callable[[], None],
        max_streams: int = STREAMS_BEFORE_SETTINGS,
    ) -> None:
        self.host_port = (host, port)
        self._loop = asyncio.get_running_loop()  # made by create_connection, inside the loop
        self.transport: asyncio.Transport | None = None
        self.alpn: str | None = None
        self.streams: dict[int, Stream] = {}
        self.max_streams = max_streams  # assumed until the peer's SETTINGS say
        self.settled = False  # the peer's first SETTINGS have arrived
        self.closed = False
        self.goaway: int | None = None  # the last stream id of a GOAWAY received
        self.on_change = on_change
        self._encoder = RequestEncoder(authority)
        self._decoder = ResponseDecoder()
        self._reader = f.FrameReader()
        self._next_id = 1
        self._written_through = 0  # the highest stream id whose frames left in a write
        self._window = f.DEFAULT_WINDOW  # connection send window
        self._initial_window = f.DEFAULT_WINDOW  # the peer's stream send window
        self._max_frame = f.DEFAULT_MAX_FRAME_SIZE
        self._blocked: dict[int, Stream] = {}  # streams with body bytes waiting for window
        self._received = 0  # connection DATA bytes not yet given back
        self._out: list[bytes | memoryview] = []
        self._unstamped: list[Stream] = []  # streams with frames in _out: sent_at is their write
        self._header_frames = HeaderFrames()
        self._probe_until: float | None = None  # a PING is out: dead if nothing comes by then

    @property
    def free_streams(self) -> int:
        if self.closed or self.goaway is not None or self._next_id > f.MAX_STREAM_ID:
            return 0
        return self.max_streams - len(self.streams)

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        ssl_object = transport.get_extra_info("ssl_object")
        self.alpn = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        if self.alpn != "h2":
            return  # the caller closes it: not a byte of HTTP/2 to a server that did not ask
        grant = f.window_update(0, RECEIVE_WINDOW - f.DEFAULT_WINDOW)
        self._queue(f.PREFACE + f.settings_frame(_OUR_SETTINGS) + grant)

    def data_received(self, data: bytes) -> None:
        self._probe_until = None  # the push service is there
        try:
            for kind, flags, stream_id, payload in self._reader.feed(data):
                self._frame(kind, flags, stream_id, payload)
        except f.ProtocolError as exc:
            self._queue(f.goaway(self._next_id - 2 if self._next_id > 1 else 0, exc.code))
            self._flush()
            self._fail_all(BadResponse(f"HTTP/2 protocol error: {exc}"))
            self.close()
        except DecodeError as exc:
            self._queue(f.goaway(0, f.COMPRESSION_ERROR))
            self._flush()
            self._fail_all(BadResponse(f"HTTP/2 header compression error: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail_all(None if exc is None else exc)
        self.on_change()

    # requests
    def request(
        self, block: HeaderBlock, path: bytes, body: bytes, deadline: float, timeout: float
    ) -> Stream:
        """Open a stream for one POST; its frames leave with this turn's other writes."""
        transport = self.transport
        if transport is None or transport.is_closing() or not self.free_streams:
            raise Unprocessed("the HTTP/2 connection takes no new stream")
        stream_id = self._next_id
        self._next_id += 2
        waiter = self._loop.create_future()
        stream = self.streams[stream_id] = Stream(stream_id, waiter, self._initial_window)
        stream.deadline, stream.timeout = deadline, timeout
        self._unstamped.append(stream)
        headers = self._encoder.encode(block, path, len(body))
        self._headers(stream_id, headers, end_stream=not body)
        if body:
            stream.pending = memoryview(body)
            self._send_data(stream)
        return stream

    def cancel(self, stream: Stream, exc: BaseException) -> None:
        """Give up on a stream (timeout, cancellation): RST_STREAM CANCEL (§8.4)."""
        if self.streams.pop(stream.id, None) is None:
            return
        self._blocked.pop(stream.id, None)
        self._queue(f.rst_stream(stream.id, f.CANCEL))
        if not stream.waiter.done():
            stream.waiter.set_exception(exc)
        self._close_if_drained()
        self.on_change()

    def expire(self, now: float) -> None:
        """Time out the streams past their deadline. A timeout may mean a dead connection (a
        NAT or load balancer dropped it without a word), which would take every later stream
        to its timeout too: a PING asks, and the connection is dropped if nothing at all
        arrives within that stream's timeout (§6.7)."""
        expired = [s for s in self.streams.values() if s.deadline < now]
        for stream in expired:
            self.cancel(stream, TimeoutError(f"no answer within {stream.timeout:g} s"))
        if self._probe_until is not None and now > self._probe_until:
            self.closed = True
            if self.transport is not None:
                self.transport.abort()  # close() would wait to flush into the void
        elif expired and self._probe_until is None and not self.closed:
            self._probe_until = now + max(s.timeout for s in expired)
            self._queue(f.frame(f.PING, 0, 0, _PROBE))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # writing
    def _queue(self, data: bytes) -> None:
        if not self._out:
            self._loop.call_soon(self._flush)
        self._out.append(data)

    def _flush(self) -> None:
        if not self._out or self.transport is None:
            return
        data = b"".join(self._out)
        self._out.clear()
        # Answer times count from the write that ended each request (or carried its last
        # frame so far), not from its wait for this turn's end or for a flow-control window.
        now = time.monotonic()
        for stream in self._unstamped:
            stream.sent_at = now
        self._unstamped.clear()
        self._written_through = self._next_id - 2
        if not self.transport.is_closing():
            self.transport.write(data)  # one TLS write for every request of this turn

    def _headers(self, stream_id: int, block: bytes, *, end_stream: bool) -> None:
        flags = f.END_STREAM if end_stream else 0
        size = self._max_frame
        if len(block) <= size:
            self._queue(f.frame(f.HEADERS, flags | f.END_HEADERS, stream_id, block))
            return
        self._queue(f.frame(f.HEADERS, flags, stream_id, block[:size]))  # §6.10: CONTINUATION
        for at in range(size, len(block), size):
            last = at + size >= len(block)
            kind_flags = f.END_HEADERS if last else 0
            self._queue(f.frame(f.CONTINUATION, kind_flags, stream_id, block[at : at + size]))

    def _send_data(self, stream: Stream) -> None:
        pending = stream.pending
        while pending:
            size = min(len(pending), stream.window, self._window, self._max_frame)
            if size <= 0:
                self._blocked[stream.id] = stream  # resumes on WINDOW_UPDATE or SETTINGS
                if len(pending) < len(stream.pending):
                    self._unstamped.append(stream)  # some of the body leaves at last
                stream.pending = pending
                return
            chunk, pending = pending[:size], pending[size:]
            stream.window -= size
            self._window -= size
            end = f.END_STREAM if not pending else 0
            self._queue(f.frame_head(f.DATA, end, stream.id, size))
            self._out.append(chunk)  # joined once, in _flush
        if stream.id in self._blocked:
            del self._blocked[stream.id]
            self._unstamped.append(stream)  # its body's end leaves at last
        stream.pending = pending

    def _unblock(self) -> None:
        for stream in list(self._blocked.values()):
            if self._window <= 0:
                return
            self._send_data(stream)

    # reading
    def _frame(self, kind: int, flags: int, stream_id: int, payload: bytes) -> None:
        if self._header_frames.incomplete and kind != f.CONTINUATION:
            raise f.ProtocolError("a frame between HEADERS and its CONTINUATION")
        if kind == f.HEADERS:
            block = self._header_frames.headers(stream_id, flags, payload)
            if block is not None:
                self._headers_received(stream_id, flags, block)
        elif kind == f.DATA:
            self._data(stream_id, flags, payload)
        elif kind == f.CONTINUATION:
            whole = self._header_frames.continuation(stream_id, flags, payload)
            if whole is not None:
                self._headers_received(stream_id, *whole)
        elif kind == f.SETTINGS:
            if not flags & f.ACK:
                self._settings(f.parse_settings(payload))
        elif kind == f.WINDOW_UPDATE:
            self._window_update(stream_id, f.u32(payload) & f.MAX_WINDOW)
        elif kind == f.PING:
            if not flags & f.ACK:
                self._queue(f.frame(f.PING, f.ACK, 0, payload))  # §6.7
        elif kind == f.RST_STREAM:
            self._reset(stream_id, f.u32(payload))
        elif kind == f.GOAWAY:
            self._goaway(f.u32(payload) & f.MAX_STREAM_ID, f.u32(payload, 4))
        elif kind == f.PUSH_PROMISE:
            raise f.ProtocolError("PUSH_PROMISE although we disabled push")  # §8.4
        # PRIORITY and unknown types are ignored (§5.5)

    def _headers_received(self, stream_id: int, flags: int, block: bytes) -> None:
        fields = self._decoder.decode(block)  # always: the table must stay in step
        stream = self.streams.get(stream_id)
        if stream is None:
            return  # a stream we cancelled
        if not stream.status:
            status = answer_status(fields)
            if status < 200:
                if status in (0, 101) or flags & f.END_STREAM:
                    self._stream_failed(stream, BadResponse(f"bad HTTP/2 answer status {status}"))
                return  # 1xx (103 Early Hints): the final answer follows (RFC 9113 §8.1)
            stream.answered(status, fields)
        if flags & f.END_STREAM:
            self._complete(stream)

    def _data(self, stream_id: int, flags: int, payload: bytes) -> None:
        self._received += len(payload)
        if self._received >= RECEIVE_WINDOW // 2:
            self._queue(f.window_update(0, self._received))
            self._received = 0
        stream = self.streams.get(stream_id)
        if stream is None:
            return
        if not stream.status:
            raise f.ProtocolError("DATA before the answer's HEADERS")
        if len(stream.excerpt) < EXCERPT_BYTES:
            stream.add_body(f.strip_padding(flags, payload))
        stream.received += len(payload)
        if flags & f.END_STREAM:
            self._complete(stream)
        elif stream.received >= RECEIVE_WINDOW // 2:
            self._queue(f.window_update(stream_id, stream.received))
            stream.received = 0

    def _complete(self, stream: Stream) -> None:
        del self.streams[stream.id]
        self._blocked.pop(stream.id, None)
        if stream.pending:  # answered before the whole body went: stop sending it (§8.1)
            self._queue(f.rst_stream(stream.id, f.NO_ERROR))
        if not stream.waiter.done():
            stream.waiter.set_result(stream.response(time.monotonic()))
        self._close_if_drained()
        self.on_change()

    def _stream_failed(self, stream: Stream, exc: BaseException) -> None:
        self.streams.pop(stream.id, None)
        self._blocked.pop(stream.id, None)
        if not stream.waiter.done():
            stream.waiter.set_exception(exc)
        self._close_if_drained()
        self.on_change()

    def _close_if_drained(self) -> None:
        """After GOAWAY, close once the last stream has ended, however it ended (answered,
        reset, timed out): a server that keeps the connection open would otherwise hold one of
        the origin's few connections for ever, taking no new stream (§6.8)."""
        if self.goaway is not None and not self.streams and not self.closed:
            self.close()

    def _settings(self, values: list[tuple[int, int]]) -> None:
        if not self.settled:  # the first: no limit named is no limit (§6.5.2)
            self.max_streams, self.settled = ASSUMED_MAX_STREAMS, True
        for key, value in values:
            if key == f.HEADER_TABLE_SIZE:
                self._encoder.resize(value)
            elif key == f.MAX_CONCURRENT_STREAMS:
                self.max_streams = value
            elif key == f.INITIAL_WINDOW_SIZE:
                if value > f.MAX_WINDOW:
                    raise f.ProtocolError("INITIAL_WINDOW_SIZE too large", f.FLOW_CONTROL_ERROR)
                delta, self._initial_window = value - self._initial_window, value
                for stream in self.streams.values():  # §6.9.2
                    stream.window += delta
            elif key == f.MAX_FRAME_SIZE:
                if not f.DEFAULT_MAX_FRAME_SIZE <= value <= 2**24 - 1:
                    raise f.ProtocolError("MAX_FRAME_SIZE out of range")
                self._max_frame = value
        self._queue(f.frame(f.SETTINGS, f.ACK, 0))
        self._unblock()
        self.on_change()

    def _window_update(self, stream_id: int, increment: int) -> None:
        if stream_id == 0:
            self._window += increment
            if self._window > f.MAX_WINDOW:
                raise f.ProtocolError("connection window too large", f.FLOW_CONTROL_ERROR)
            self._unblock()
            return
        stream = self.streams.get(stream_id)
        if stream is not None:
            stream.window += increment
            if stream.id in self._blocked:
                self._send_data(stream)

    def _reset(self, stream_id: int, code: int) -> None:
        stream = self.streams.get(stream_id)
        if stream is None:
            return
        if code == f.NO_ERROR and stream.status:
            self._complete(stream)  # answered in full; it only needs no more of the body
        elif code == f.REFUSED_STREAM:
            self._stream_failed(stream, Unprocessed("the push service refused the stream"))
        else:
            self._stream_failed(stream, StreamReset(f"stream reset by the push service ({code})"))

    def _goaway(self, last_stream_id: int, code: int) -> None:
        self.goaway = last_stream_id
        for stream in [s for s in self.streams.values() if s.id > last_stream_id]:
            self._stream_failed(stream, Unprocessed(f"GOAWAY ({code}) before it was processed"))
        self._close_if_drained()
        self.on_change()

    def _fail_all(self, exc: BaseException | None) -> None:
        for stream in list(self.streams.values()):
            if stream.id > self._written_through:
                error: BaseException = Unprocessed("the connection closed before it was sent")
            elif exc is not None and not isinstance(exc, ConnectionError | OSError):
                error = ConnectionError(f"connection lost mid-answer: {exc}")
            else:
                error = exc or ConnectionError("connection lost mid-answer: EOF")
            self._stream_failed(stream, error)
