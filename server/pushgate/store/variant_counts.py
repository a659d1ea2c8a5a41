"""Per-variant counts of an A/B test from the two grouped reads both backends make."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pushgate.store.models import Counts

EVENT_KINDS = ("delivered", "clicked", "dismissed")


def variant_counts(
    variants: int, states: Sequence[Sequence[Any]], events: Sequence[Sequence[Any]]
) -> list[Counts]:
    """`states`: (variant, deliveries, accepted, failed, gone, capped, cancelled) rows;
    `events`: (variant, kind, count) rows. One Counts per variant, in index order."""
    fields: list[dict[str, int]] = [{} for _ in range(variants)]
    for variant, targeted, accepted, failed, gone, capped, cancelled in states:
        if 0 <= variant < variants:
            fields[variant].update(
                targeted=int(targeted),
                accepted=int(accepted or 0),
                failed=int(failed or 0),
                gone=int(gone or 0),
                capped=int(capped or 0),
                cancelled=int(cancelled or 0),
            )
    for variant, kind, count in events:
        if 0 <= variant < variants and kind in EVENT_KINDS:
            fields[variant][kind] = int(count)
    return [Counts(**f) for f in fields]
