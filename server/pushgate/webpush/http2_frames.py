"""HTTP/2 frames (RFC 9113 §4, §6): the few a client posting to push services writes, and a
reader that splits received bytes into frames without copying more than it must."""

from __future__ import annotations

import struct

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # RFC 9113 §3.4
FRAME_HEADER_BYTES = 9

# Frame types (§6)
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS = 0, 1, 2, 3, 4
PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 5, 6, 7, 8, 9

# Flags
END_STREAM = 0x1
ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20

# Settings (§6.5.2)
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS = 1, 2, 3
INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE = 4, 5, 6

# Error codes (§7)
NO_ERROR, PROTOCOL_ERROR, FLOW_CONTROL_ERROR = 0x0, 0x1, 0x3
FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR = 0x6, 0x7, 0x8, 0x9
ENHANCE_YOUR_CALM = 0xB

DEFAULT_WINDOW = 65_535  # §6.9.2
DEFAULT_MAX_FRAME_SIZE = 16_384  # §6.5.2: also the most a peer may send us unless we allow more
MAX_WINDOW = 2**31 - 1
MAX_STREAM_ID = 2**31 - 1

_HEADER = struct.Struct(">HBBBL")  # 24-bit length as 16 + 8 bits, type, flags, stream id
_SETTING = struct.Struct(">HL")
_U32 = struct.Struct(">L")
_GOAWAY = struct.Struct(">LL")


class ProtocolError(Exception):
    """The push service broke HTTP/2's rules: the connection cannot go on (§5.4.1)."""

    def __init__(self, message: str, code: int = PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.code = code


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    length = len(payload)
    return _HEADER.pack(length >> 8, length & 0xFF, kind, flags, stream_id) + payload


def frame_head(kind: int, flags: int, stream_id: int, length: int) -> bytes:
    """The 9 bytes before a payload written separately (no concatenation of the body)."""
    return _HEADER.pack(length >> 8, length & 0xFF, kind, flags, stream_id)


def settings_frame(values: dict[int, int]) -> bytes:
    return frame(SETTINGS, 0, 0, b"".join(_SETTING.pack(k, v) for k, v in values.items()))


def parse_settings(payload: bytes) -> list[tuple[int, int]]:
    if len(payload) % 6:
        raise ProtocolError("SETTINGS of a length not a multiple of 6", FRAME_SIZE_ERROR)
    return [_SETTING.unpack_from(payload, at) for at in range(0, len(payload), 6)]


def window_update(stream_id: int, increment: int) -> bytes:
    return frame(WINDOW_UPDATE, 0, stream_id, _U32.pack(increment))


def rst_stream(stream_id: int, code: int) -> bytes:
    return frame(RST_STREAM, 0, stream_id, _U32.pack(code))


def goaway(last_stream_id: int, code: int) -> bytes:
    return frame(GOAWAY, 0, 0, _GOAWAY.pack(last_stream_id, code))


def u32(payload: bytes, at: int = 0) -> int:
    if len(payload) < at + 4:
        raise ProtocolError("frame too short", FRAME_SIZE_ERROR)
    return int(_U32.unpack_from(payload, at)[0])


def strip_padding(flags: int, payload: bytes, *, priority: bool = False) -> bytes:
    """The payload of a DATA or HEADERS frame without its padding and priority fields."""
    start = 0
    end = len(payload)
    if flags & PADDED:
        if not payload:
            raise ProtocolError("PADDED frame without a pad length", FRAME_SIZE_ERROR)
        start, end = 1, end - payload[0]
    if priority and flags & PRIORITY_FLAG:
        start += 5
    if end < start:
        raise ProtocolError("padding longer than the frame")
    return payload[start:end] if start or end != len(payload) else payload


class FrameReader:
    """Splits a byte stream into (type, flags, stream id, payload) frames."""

    def __init__(self, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        self._buffer = bytearray()
        self._max = max_frame_size

    def feed(self, data: bytes) -> list[tuple[int, int, int, bytes]]:
        buffer = self._buffer
        if buffer:
            buffer += data
            view: bytes | bytearray = buffer
        else:
            view = data
        frames = []
        at, size = 0, len(view)
        while size - at >= FRAME_HEADER_BYTES:
            high, low, kind, flags, stream_id = _HEADER.unpack_from(view, at)
            length = (high << 8) | low
            if length > self._max:
                raise ProtocolError(f"a frame of {length} bytes", FRAME_SIZE_ERROR)
            end = at + FRAME_HEADER_BYTES + length
            if end > size:
                break
            payload = bytes(view[at + FRAME_HEADER_BYTES : end])
            frames.append((kind, flags, stream_id & MAX_STREAM_ID, payload))
            at = end
        if view is buffer:
            del buffer[:at]
        elif at < size:
            self._buffer = bytearray(view[at:])
        return frames
