"""One row of the table: what was measured, how often, and whether it was right."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from bench.correctness import SampleCheck


@dataclass
class Row:
    key: str  # stable id the ratios and targets refer to, e.g. "node", "pushgate"
    label: str
    size: int
    rates: list[float] = field(default_factory=list)  # msgs/s, one per run
    sample: SampleCheck | None = None  # None: nothing on the wire (encryption only)
    lost: int = 0  # messages the sink did not answer 201 (summed over runs)
    cpu_per_1k: float | None = None  # CPU seconds per 1,000 messages, all processes
    peak_rss: int | None = None  # bytes: peak of the RSS summed over the row's processes
    peak_pss: int | None = None  # bytes: the same with PSS (shared pages counted once)
    runs_detail: list[dict[str, Any]] = field(default_factory=list)  # per-run figures
    extras: dict[str, str] = field(default_factory=dict)  # shown in the row's notes
    figures: dict[str, float] = field(default_factory=dict)  # once per row, for the targets
    note: str = ""

    @property
    def rate(self) -> float | None:
        return statistics.median(self.rates) if self.rates else None

    @property
    def wrong(self) -> bool:
        return self.lost > 0 or (self.sample is not None and not self.sample.ok)

    def correctness(self) -> str:
        parts = [] if self.sample is None else [self.sample.describe()]
        if self.lost:
            parts.append(f"WRONG: {self.lost} not answered 201")
        return "; ".join(parts) or "n/a (no network)"
