"""An answer's header block as its frames bring it (RFC 9113 §6.2, §6.10): a HEADERS frame,
then CONTINUATION frames of the same stream with no other frame between, up to END_HEADERS."""

from __future__ import annotations

from pushgate.webpush import http2_frames as f

# An answer's header block, HEADERS and CONTINUATION frames together, in bytes: a push service's
# is a few hundred. Past it the connection ends (a CONTINUATION flood would fill the memory).
MAX_HEADER_BLOCK_BYTES = 64 * 1024


class HeaderFrames:
    """Joins a header block split over frames; raises f.ProtocolError when the frames break
    the rules or the block grows past MAX_HEADER_BLOCK_BYTES."""

    def __init__(self) -> None:
        self._partial: tuple[int, int, bytearray] | None = None  # HEADERS awaiting CONTINUATION

    @property
    def incomplete(self) -> bool:
        """A HEADERS frame waits for its CONTINUATION: no other frame may come now."""
        return self._partial is not None

    def headers(self, stream_id: int, flags: int, payload: bytes) -> bytes | None:
        """A HEADERS frame: its whole block, or None while CONTINUATION frames must follow."""
        block = f.strip_padding(flags, payload, priority=True)
        if flags & f.END_HEADERS:
            return block
        self._partial = (stream_id, flags, bytearray(block))
        return None

    def continuation(self, stream_id: int, flags: int, payload: bytes) -> tuple[int, bytes] | None:
        """A CONTINUATION frame: the HEADERS frame's flags and the whole block once it ends."""
        if self._partial is None or self._partial[0] != stream_id:
            raise f.ProtocolError("CONTINUATION without its HEADERS")
        first_flags, block = self._partial[1], self._partial[2]
        if len(block) + len(payload) > MAX_HEADER_BLOCK_BYTES:
            raise f.ProtocolError(
                f"a header block over {MAX_HEADER_BLOCK_BYTES} bytes", f.ENHANCE_YOUR_CALM
            )
        block += payload
        if not flags & f.END_HEADERS:
            return None
        self._partial = None
        return first_flags, bytes(block)
