"""A notification run's part of its A/B test: expanding into the sample and the held rest,
and choosing the winner once `winner_after` has passed (content/ab_test.py has the rules).

Every gateway running the notification may reach the choice; the store records the first
winner only, and only that one moves the held deliveries, so the rest is sent once.
"""

from __future__ import annotations

import functools
import logging

from pushgate.content.ab_test import HELD_DUE_AT, AbTest, split, winner
from pushgate.store import Store
from pushgate.store.models import Notification

log = logging.getLogger("pushgate.delivery")


class AbTestRun:
    def __init__(self, notification: Notification, store: Store) -> None:
        assert notification.ab_test is not None
        self.n = notification
        self.test = AbTest.from_json(notification.ab_test)
        self._store = store
        self._waiting = notification.winner is None
        self.choose_at = self.test.winner_due_at(notification.starts_at)

    async def expand(self, limit: int) -> int:
        """The next batch of the audience: the sample due from the start (its TTL counts from
        there), the rest held. Returns how many subscribers were read."""
        starts = self.n.starts_at
        return await self._store.expand_audience_split(
            self.n,
            limit,
            functools.partial(split, self.test),
            (starts, starts + self.n.ttl),
            HELD_DUE_AT,
        )

    def due(self, now: float, expanded: bool) -> bool:
        """Whether to choose now: its time has come and the whole audience is expanded (so
        that no subscriber is held after the choice)."""
        return self._waiting and expanded and now >= self.choose_at

    async def choose(self, now: float) -> None:
        counts = await self._store.variant_counts(self.n.key, self.test.variants)
        best = winner(counts, self.test.metric)
        recorded = await self._store.record_winner(self.n.key, best, now)
        self._waiting = False
        if recorded:
            rates = ", ".join(
                f"{c.clicked if self.test.metric == 'clicked' else c.delivered}/{c.accepted}"
                for c in counts
            )
            log.info(
                "notification %s: A/B variant %d wins (%s per accepted: %s); the rest is due",
                self.n.id,
                best,
                self.test.metric,
                rates,
            )
