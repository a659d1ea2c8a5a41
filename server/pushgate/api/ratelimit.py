"""Token buckets, one per key: bursts up to a minute's rate, refilled evenly, memory bounded."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

Clock = Callable[[], float]  # monotonic seconds
SECONDS_PER_MINUTE = 60.0
MAX_KEYS = 100_000  # buckets kept at most per limiter: about 30 MB when all are in use
_EPSILON_SECONDS = 1e-9  # float sums of 1/rate must not refuse the last token of a burst


class RateLimiter:
    """`per_minute` requests a minute per key, with bursts of up to `per_minute` at once.

    Each bucket holds `per_minute` tokens and refills at `per_minute / 60` a second. It is stored
    as one number, the moment it will be full again (the GCRA form of a token bucket): a key
    without an entry has a full bucket, so full buckets are dropped, and past `max_keys` the least
    recently used bucket goes, which bounds memory however many addresses an attacker rotates.
    """

    def __init__(
        self, per_minute: int, *, clock: Clock = time.monotonic, max_keys: int = MAX_KEYS
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive (leave a limit out to turn it off)")
        self._interval = SECONDS_PER_MINUTE / per_minute  # seconds one token takes to refill
        self._burst_window = SECONDS_PER_MINUTE - self._interval  # refill debt a request may leave
        self._clock = clock
        self._max_keys = max_keys
        self._full_at: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._full_at)

    def acquire(self, key: str) -> float:
        """Take one token for `key`: 0 if taken, else the seconds until one is available."""
        now = self._clock()
        self._drop_full(now)
        full_at = max(self._full_at.get(key, now), now)
        debt = full_at - now
        refused = debt > self._burst_window + _EPSILON_SECONDS
        # A refusal counts as use too: a key hammering away must not be the one evicted.
        self._full_at[key] = full_at if refused else full_at + self._interval
        self._full_at.move_to_end(key)
        if len(self._full_at) > self._max_keys:
            self._full_at.popitem(last=False)
        return debt - self._burst_window if refused else 0.0

    def _drop_full(self, now: float) -> None:
        # Least recently used first; stopping at the first bucket still refilling keeps this O(1)
        # per call on average, and the cap bounds whatever this leaves behind.
        while self._full_at:
            key, full_at = next(iter(self._full_at.items()))
            if full_at > now:
                return
            del self._full_at[key]


def retry_after(wait_seconds: float) -> str:
    """The `Retry-After` header value (RFC 9110 §10.2.3): whole seconds, at least 1."""
    return str(max(1, math.ceil(wait_seconds - _EPSILON_SECONDS)))
