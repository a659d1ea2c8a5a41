"""Per-variant opt-in rates of the soft prompt, with 95 % Wilson intervals, and which variant is
better (issue #12 part 6). Pure arithmetic over the daily counters: the dashboard page and its
tests read the same numbers.

"Better with 95 % confidence" is a two-sided two-proportion z-test with a pooled standard
error: |z| > 1.96. With more than two variants each pair is tested on its own (no correction
for the number of pairs, which the page says).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pushgate.prompt_variants import DEFAULT_VARIANT_ID, PROMPT_EVENTS, day_of
from pushgate.store.base import Store
from pushgate.store.models import Site
from pushgate.store.prompt_rows import PromptEventCount, PromptVariant

FIRST_DAY = "0001-01-01"  # counters are summed from the first one kept
Z_95 = 1.959963984540054  # the standard normal's 97.5th percentile: two-sided 95 %


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of successes / trials; (0, 0) for no trials."""
    if trials <= 0:
        return 0.0, 0.0
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> float:
    """z of x1/n1 - x2/n2 with the pooled standard error; 0 when it cannot be told."""
    if n1 <= 0 or n2 <= 0:
        return 0.0
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return 0.0 if se == 0 else (x1 / n1 - x2 / n2) / se


@dataclass(frozen=True)
class VariantStats:
    id: str
    text: str | None
    counts: dict[str, int]  # event -> total

    @property
    def shown(self) -> int:
        return self.counts["shown"]

    @property
    def granted(self) -> int:
        return self.counts["granted"]

    @property
    def rate(self) -> float | None:
        """granted / shown; None before the prompt was shown."""
        return self.granted / self.shown if self.shown else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(min(self.granted, self.shown), self.shown)


@dataclass(frozen=True)
class Comparison:
    better: VariantStats
    worse: VariantStats
    z: float


def variant_stats(
    site: Site, variants: Sequence[PromptVariant], counts: Sequence[PromptEventCount]
) -> list[VariantStats]:
    """Totals per current variant (in the site's order), summed over the days given."""
    texts: dict[str, str | None] = {v.id: v.text for v in variants}
    if not texts:  # the single prompt: its text, or None for the snippet's default
        texts = {DEFAULT_VARIANT_ID: site.prompt_text}
    totals = {vid: dict.fromkeys(PROMPT_EVENTS, 0) for vid in texts}
    for row in counts:
        if row.variant_id in totals and row.event in PROMPT_EVENTS:
            totals[row.variant_id][row.event] += row.count
    return [VariantStats(vid, text, totals[vid]) for vid, text in texts.items()]


def significant_pairs(stats: Sequence[VariantStats]) -> list[Comparison]:
    """Each pair whose opt-in rates differ with 95 % confidence, better first, largest z first."""
    found = []
    for i, first in enumerate(stats):
        for second in stats[i + 1 :]:
            z = two_proportion_z(first.granted, first.shown, second.granted, second.shown)
            if abs(z) > Z_95:
                better, worse = (first, second) if z > 0 else (second, first)
                found.append(Comparison(better, worse, abs(z)))
    return sorted(found, key=lambda c: -c.z)


def verdict(stats: Sequence[VariantStats]) -> str:
    """One or more sentences: which variant is better, or that none is clearly better yet."""
    if len(stats) < 2:
        return "Add a second variant to compare opt-in rates."
    pairs = significant_pairs(stats)
    if not pairs:
        return (
            "No clear winner yet: no variant's opt-in rate differs from another's with 95 % "
            "confidence."
        )
    return " ".join(
        f"Variant {c.better.id} is better than variant {c.worse.id} with 95 % confidence "
        f"({percent(c.better.rate)} against {percent(c.worse.rate)} opt-in, z = {c.z:.2f})."
        for c in pairs
    )


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


async def site_prompt_stats(store: Store, site: Site, now: float) -> list[VariantStats]:
    """The site's current variants (or its single prompt) with every count up to today."""
    variants = await store.prompt_variants(site.id)
    counts = await store.prompt_event_counts(site.id, FIRST_DAY, day_of(now))
    return variant_stats(site, variants, counts)
