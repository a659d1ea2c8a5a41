"""Soft-prompt variants and the daily counters of their prompt events (issue #12 part 6), and the
store verbs that read and write them. The rules (how many variants, which events) live in
pushgate.prompt_variants; the store keeps what it is given."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class PromptVariant:
    id: str  # a short slug, unique within its site
    text: str
    accept_label: str
    dismiss_label: str
    weight: int  # 1..100: the share of new browsers that get it, relative to the others


@dataclass(frozen=True)
class PromptEventCount:
    """How many times `event` happened with `variant_id` on `day` (UTC, YYYY-MM-DD)."""

    day: str
    variant_id: str
    event: str
    count: int


class PromptStore(Protocol):
    async def prompt_variants(self, site_id: str) -> list[PromptVariant]: ...
    async def set_prompt_variants(
        self, site_id: str, variants: Sequence[PromptVariant]
    ) -> None: ...
    async def count_prompt_event(
        self, site_id: str, day: str, variant_id: str, event: str
    ) -> None: ...
    async def prompt_event_counts(
        self, site_id: str, from_day: str, to_day: str
    ) -> list[PromptEventCount]: ...
