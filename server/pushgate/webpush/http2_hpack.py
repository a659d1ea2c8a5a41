"""HPACK (RFC 7541) for our requests: a lean encoder for the one shape of request we send.

Every message of a notification to one push service carries the same headers, the VAPID
`Authorization` (~450 bytes) among them. The first request on a connection sends each with
incremental indexing (§6.2.1); later ones refer to the dynamic table with a byte or two each
(§6.1), so a request's header block is a cached prefix plus its `:path` and `content-length`.
Answers are decoded here too (`ResponseDecoder`), with the `hpack` package's Huffman table:
its own decoder cost ~50 µs an answer, more than the rest of the request.
"""

from __future__ import annotations

from collections import deque

from hpack.exceptions import HPACKDecodingError
from hpack.huffman_table import decode_huffman
from hpack.table import HeaderTable

from pushgate.webpush.http1 import header_block

DEFAULT_TABLE_BYTES = 4096  # §4.2, and RFC 9113 §6.5.2's SETTINGS_HEADER_TABLE_SIZE default
ENTRY_OVERHEAD_BYTES = 32  # §4.1
STATIC_ENTRIES = 61  # Appendix A: dynamic entries are numbered from 62
# Appendix A indices of the names we send (the value is ours)
_STATIC_NAMES = {
    b":authority": 1,
    b"authorization": 23,
    b"content-encoding": 26,
    b"content-type": 31,
}
POST_HTTPS = b"\x83\x87"  # :method POST (3) and :scheme https (7), indexed
MAX_CACHED_BLOCKS = 64  # per connection: notifications sending at once
_PATH_NAME = 4  # :path, sent literal without indexing: it differs for every request
_LENGTH_NAME = 28  # content-length, likewise


class HeaderBlock(bytes):
    """A request's headers for both protocols: the bytes are HTTP/1.1 header lines; `fields`
    the same headers as HTTP/2 wants them (lower-case names, RFC 9113 §8.2.1)."""

    fields: tuple[tuple[bytes, bytes], ...]


def request_headers(headers: dict[str, str]) -> HeaderBlock:
    block = HeaderBlock(header_block(headers))  # refuses CR and LF
    block.fields = tuple(
        (name.lower().encode("ascii"), value.encode("latin-1")) for name, value in headers.items()
    )
    return block


def integer(value: int, prefix_bits: int, first: int) -> bytes:
    """§5.1: `value` with an N-bit prefix; `first` holds the pattern bits above the prefix."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out = bytearray((first | limit,))
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def string(value: bytes) -> bytes:
    """§5.2, without Huffman coding: our values are mostly base64url, which it barely shrinks."""
    return integer(len(value), 7, 0) + value


class RequestEncoder:
    """Encodes our requests' headers, keeping the peer decoder's dynamic table in step."""

    def __init__(self, authority: bytes) -> None:
        self._authority = authority
        self._max = DEFAULT_TABLE_BYTES
        self._size = 0
        self._inserted = 0  # entries ever inserted: the newest has sequence _inserted - 1
        self._entries: deque[tuple[int, int, tuple[bytes, bytes]]] = deque()  # oldest first
        self._where: dict[tuple[bytes, bytes], int] = {}  # field -> its sequence number
        self._cache: dict[HeaderBlock, tuple[int, bytes, bytes]] = {}
        self._size_update: bytes = b""
        self._generation = 0  # changes whenever an entry comes or goes: cached blocks go stale

    def resize(self, table_bytes: int) -> None:
        """The peer's SETTINGS_HEADER_TABLE_SIZE: the most our table may hold (§4.2)."""
        new_max = min(table_bytes, DEFAULT_TABLE_BYTES)
        if new_max != self._max:
            self._max = new_max
            self._generation += 1
            self._evict(0)
            self._size_update = integer(new_max, 5, 0x20)  # §6.3, at the next block's start

    def encode(self, block: HeaderBlock, path: bytes, length: int) -> bytes:
        cached = self._cache.get(block)
        if cached is None or cached[0] != self._generation or self._size_update:
            cached = self._encode_fields(block)
        # Pseudo-headers first (RFC 9113 §8.3): `:path` goes between the cached parts, which
        # keeps their order, and so the dynamic table's, as a literal that is never indexed.
        return b"".join(
            (
                cached[1],
                integer(_PATH_NAME, 4, 0),
                string(path),
                cached[2],
                integer(_LENGTH_NAME, 4, 0),
                string(b"%d" % length),
            )
        )

    def _encode_fields(self, block: HeaderBlock) -> tuple[int, bytes, bytes]:
        generation = self._generation
        head = self._size_update + POST_HTTPS + self._field((b":authority", self._authority))
        self._size_update = b""
        encoded = (self._generation, head, b"".join(map(self._field, block.fields)))
        if generation == self._generation:  # only references: the same bytes serve again
            if len(self._cache) > MAX_CACHED_BLOCKS:
                self._cache.clear()
            self._cache[block] = encoded
        return encoded

    def _field(self, field: tuple[bytes, bytes]) -> bytes:
        sequence = self._where.get(field)
        if sequence is not None:
            return integer(STATIC_ENTRIES + self._inserted - sequence, 7, 0x80)
        name, value = field
        name_index = _STATIC_NAMES.get(name, 0)
        encoded = integer(name_index, 6, 0x40) + (b"" if name_index else string(name))
        self._insert(field)
        return encoded + string(value)

    def _insert(self, field: tuple[bytes, bytes]) -> None:
        size = len(field[0]) + len(field[1]) + ENTRY_OVERHEAD_BYTES
        self._generation += 1
        self._evict(size)
        if size > self._max:  # §4.4: an entry larger than the table empties it, and is not kept
            return
        self._entries.append((self._inserted, size, field))
        self._where[field] = self._inserted
        self._inserted += 1
        self._size += size

    def _evict(self, room: int) -> None:
        while self._entries and self._size + room > self._max:
            sequence, size, field = self._entries.popleft()
            self._size -= size
            if self._where.get(field) == sequence:
                del self._where[field]


class DecodeError(Exception):
    """A header block that does not decode (RFC 7541 §3.3, §5): COMPRESSION_ERROR."""


_STATIC = HeaderTable.STATIC_TABLE  # Appendix A, index 1 at position 0
MAX_CACHED_ANSWERS = 256  # distinct answer blocks remembered (a Date header changes each second)


class ResponseDecoder:
    """Decodes the push service's answers, keeping our dynamic table.

    A push service answers every request with the same few headers, usually as literals with
    incremental indexing (nginx does), so most blocks repeat byte for byte within a second. A
    block that refers to no dynamic entry decodes the same every time: its fields and the
    entries it adds are remembered, and a repeat costs a dictionary look-up and the inserts."""

    def __init__(self, max_table_bytes: int = DEFAULT_TABLE_BYTES) -> None:
        self._allowed = max_table_bytes  # our SETTINGS_HEADER_TABLE_SIZE
        self._max = max_table_bytes
        self._size = 0
        self._entries: deque[tuple[bytes, bytes, int]] = deque()  # newest first
        self._cache: dict[bytes, tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]] = {}

    def decode(self, block: bytes) -> list[tuple[bytes, bytes]]:
        cached = self._cache.get(block)
        if cached is not None:
            for name, value in cached[1]:
                self._insert(name, value)
            return cached[0]
        fields, added, pure = self._decode(block)
        if pure:
            if len(self._cache) >= MAX_CACHED_ANSWERS:
                self._cache.clear()
            self._cache[block] = (fields, added)
        return fields

    def _decode(
        self, block: bytes
    ) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]], bool]:
        fields: list[tuple[bytes, bytes]] = []
        added: list[tuple[bytes, bytes]] = []
        pure = True  # no dynamic reference, no size update: the same bytes mean the same
        at, end = 0, len(block)
        while at < end:
            first = block[at]
            if first & 0x80:  # §6.1 indexed
                index, at = _integer(block, at, 7)
                pure = pure and index <= STATIC_ENTRIES
                fields.append(self._entry(index))
                continue
            if first & 0xE0 == 0x20:  # §6.3 dynamic table size update
                size, at = _integer(block, at, 5)
                if size > self._allowed:
                    raise DecodeError("table size update above our setting")
                self._max, pure = size, False
                self._evict(0)
                continue
            indexing = first & 0xC0 == 0x40  # §6.2.1, else §6.2.2 / §6.2.3
            index, at = _integer(block, at, 6 if indexing else 4)
            if index:
                pure = pure and index <= STATIC_ENTRIES
                name = self._entry(index)[0]
            else:
                name, at = _string(block, at)
            value, at = _string(block, at)
            fields.append((name, value))
            if indexing:
                added.append((name, value))
                self._insert(name, value)
        return fields, added, pure

    def _entry(self, index: int) -> tuple[bytes, bytes]:
        if 0 < index <= STATIC_ENTRIES:
            return _STATIC[index - 1]
        dynamic = index - STATIC_ENTRIES - 1
        if not 0 <= dynamic < len(self._entries):
            raise DecodeError(f"no table entry {index}")
        name, value, _ = self._entries[dynamic]
        return name, value

    def _insert(self, name: bytes, value: bytes) -> None:
        size = len(name) + len(value) + ENTRY_OVERHEAD_BYTES
        self._evict(size)
        if size <= self._max:
            self._entries.appendleft((name, value, size))
            self._size += size

    def _evict(self, room: int) -> None:
        while self._entries and self._size + room > self._max:
            self._size -= self._entries.pop()[2]


def _integer(block: bytes, at: int, prefix_bits: int) -> tuple[int, int]:
    """§5.1: the integer at `at` and the position after it."""
    limit = (1 << prefix_bits) - 1
    value = block[at] & limit
    at += 1
    if value < limit:
        return value, at
    shift = 0
    while True:
        if at >= len(block) or shift > 28:
            raise DecodeError("integer runs past the block")
        byte = block[at]
        at += 1
        value += (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _string(block: bytes, at: int) -> tuple[bytes, int]:
    """§5.2: the string at `at` (Huffman-decoded if so marked) and the position after it."""
    if at >= len(block):
        raise DecodeError("string runs past the block")
    huffman = block[at] & 0x80
    length, at = _integer(block, at, 7)
    if at + length > len(block):
        raise DecodeError("string runs past the block")
    raw = block[at : at + length]
    try:
        return (decode_huffman(raw) if huffman else raw), at + length
    except HPACKDecodingError as exc:
        raise DecodeError(str(exc)) from None
