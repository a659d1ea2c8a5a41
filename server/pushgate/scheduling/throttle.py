"""`throttle_per_minute`: at most ⌊N/60⌋ messages handed to push services in any one second
(OneSignal applies its throttle per second the same way), over a sliding second."""

from __future__ import annotations

from collections import deque

MIN_PER_MINUTE = 60
MAX_PER_MINUTE = 1_000_000
WINDOW_SECONDS = 1.0


class Throttle:
    def __init__(self, per_minute: int) -> None:
        self.per_second = per_minute // 60
        self._handed: deque[tuple[float, int]] = deque()  # (when, how many), oldest first
        self._in_window = 0

    def room(self, now: float) -> int:
        """How many may be handed over at `now`."""
        self._forget(now)
        return self.per_second - self._in_window

    def take(self, now: float, count: int) -> None:
        if count:
            self._handed.append((now, count))
            self._in_window += count

    def wait_seconds(self, now: float) -> float:
        """How long until there is room again (0 if there is)."""
        if self.room(now) > 0 or not self._handed:
            return 0.0
        return self._handed[0][0] + WINDOW_SECONDS - now

    def _forget(self, now: float) -> None:
        while self._handed and self._handed[0][0] <= now - WINDOW_SECONDS:
            self._in_window -= self._handed.popleft()[1]
