"""What the store tells about itself for metrics and failure reports: counts, grouped."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StoreCounts:
    """The gauges read from the database (cached by the metrics: a few queries each)."""

    subscriptions_by_site: dict[str, int] = field(default_factory=dict)  # site id -> count
    notifications_by_status: dict[str, int] = field(default_factory=dict)
    pending_deliveries: int = 0  # waiting to be sent, retried or answered: the queue's depth


@dataclass(frozen=True)
class FailureCount:
    """Deliveries of one notification that failed (or found their subscription gone) with the
    same status and reason; `push_service` from the subscription when it still exists."""

    push_service: str | None
    status: int | None
    reason: str | None
    count: int
