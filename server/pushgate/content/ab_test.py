"""A message A/B test's rules: who is in the sample and with which variant, and which wins.

The sample is `sample_percent` of the audience, drawn at random within each expansion batch
and split evenly (round robin over the draws) across the variants; the rest is held until
`winner_after` past the notification's start, when the variant with the best rate of
`metric` per accepted message (the first on a tie) goes to them.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from pushgate.store.models import Counts

MIN_VARIANTS, MAX_VARIANTS = 2, 4
MIN_SAMPLE_PERCENT, MAX_SAMPLE_PERCENT = 1, 99  # 100 would leave no one for the winner
MIN_WINNER_AFTER_SECONDS, MAX_WINNER_AFTER_SECONDS = 10, 7 * 86400
METRICS = ("clicked", "delivered")  # counted per accepted message
# The due time of a held delivery: never due until the winner is chosen and moves it.
HELD_DUE_AT = 1e15


@dataclass(frozen=True)
class AbTest:
    sample_percent: int
    winner_after_seconds: int
    metric: str
    variants: int  # how many

    def to_json(self) -> dict[str, Any]:
        return {
            "sample_percent": self.sample_percent,
            "winner_after_seconds": self.winner_after_seconds,
            "metric": self.metric,
            "variants": self.variants,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AbTest:
        return cls(
            int(data["sample_percent"]),
            int(data["winner_after_seconds"]),
            str(data["metric"]),
            int(data["variants"]),
        )

    def winner_due_at(self, starts_at: float) -> float:
        return starts_at + self.winner_after_seconds


def split(
    test: AbTest, before: int, count: int, rng: random.Random | None = None
) -> list[int | None]:
    """The variant of each of the `count` subscribers read after the first `before` ones of
    the audience, None for those held for the winner. The sample's size follows the running
    total, so that it is `sample_percent` of the whole audience whatever the batches."""
    rng = rng or random.Random()
    first = before * test.sample_percent // 100
    last = (before + count) * test.sample_percent // 100
    chosen = rng.sample(range(count), last - first)
    variants: list[int | None] = [None] * count
    for drawn, position in enumerate(chosen, start=first):
        variants[position] = drawn % test.variants
    return variants


def rate(counts: Counts, metric: str) -> Fraction:
    """`metric` events per accepted message (0 before any was accepted)."""
    events = counts.clicked if metric == "clicked" else counts.delivered
    return Fraction(events, counts.accepted) if counts.accepted else Fraction(0)


def winner(per_variant: Sequence[Counts], metric: str) -> int:
    """The index of the variant with the best rate; the first of those tied."""
    rates = [rate(counts, metric) for counts in per_variant]
    return rates.index(max(rates))
