"""The store verbs of message A/B tests (both backends implement them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from pushgate.store.models import Counts, Notification

# (subscribers expanded before this batch, subscribers in it) -> each one's variant, None: held
Split = Callable[[int, int], list[int | None]]


class AbTestStore(Protocol):
    async def expand_audience_split(
        self,
        notification: Notification,
        limit: int,
        split: Split,
        due: tuple[float, float],
        held_due_at: float,
    ) -> int: ...
    async def variant_counts(self, notification_key: int, variants: int) -> list[Counts]: ...
    async def record_winner(self, notification_key: int, winner: int, due_at: float) -> bool: ...
