"""Rows of the stats roll-ups (schema 15), shared by both backends: buckets, series rows and
breakdown counters. Business rules (spans allowed, retention) live in pushgate.stats."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pushgate.store.timeline_rows import MINUTE_SECONDS

DAY_SECONDS = 86_400
HOUR_SECONDS = 3_600
SPAN_SECONDS = {"day": DAY_SECONDS, "hour": HOUR_SECONDS}
SPANS = tuple(SPAN_SECONDS)
# Breakdown dimensions, each a column of subscriptions (NULL counted as '').
DIMENSIONS = ("browser", "push_service", "language", "country", "timezone")
SUBSCRIBER_CHANGES = ("new", "unsubscribed", "gone")
DELIVERY_COUNTS = ("accepted", "delivered", "clicked", "dismissed", "failed", "gone")


def bucket_of(at: float, span: str) -> int:
    """The epoch second the UTC `span` holding `at` starts at."""
    width = SPAN_SECONDS[span]
    return int(at // width) * width


def buckets(at: float) -> tuple[int, int]:
    """The day and the hour holding `at`: every roll-up write adds to both."""
    return bucket_of(at, "day"), bucket_of(at, "hour")


def delivery_buckets(at: float) -> tuple[int, int, int]:
    """The day, hour and minute holding `at`: a notification's roll-ups also count per minute
    (its delivery timeline); the minute is no interval of the stats API."""
    return (*buckets(at), int(at // MINUTE_SECONDS) * MINUTE_SECONDS)


@dataclass(frozen=True)
class SubscriberBucket:
    bucket: int
    new: int
    unsubscribed: int
    gone: int


@dataclass(frozen=True)
class DeliveryBucket:
    bucket: int
    accepted: int
    delivered: int
    clicked: int
    dismissed: int
    failed: int
    gone: int


@dataclass(frozen=True)
class BreakdownCount:
    dimension: str
    value: str  # '' when unknown
    count: int


@dataclass(frozen=True)
class SubscriberRow:
    """One subscription as the subscriber list and its CSV show it."""

    key: int
    id: str
    external_id: str | None
    tags: dict[str, object]
    browser: str | None
    push_service: str | None
    language: str | None
    country: str | None
    timezone: str | None
    created_at: float
    last_seen_at: float


class StatsStore(Protocol):
    """The roll-up verbs of both backends (store/sqlite/stats.py, store/postgres/stats.py)."""

    async def subscriber_rollups(
        self, site_id: str, span: str, start: float, end: float
    ) -> list[SubscriberBucket]: ...
    async def subscriber_net_before(self, site_id: str, at: float) -> int: ...
    async def delivery_rollups(
        self, site_id: str, span: str, start: float, end: float
    ) -> list[DeliveryBucket]: ...
    async def notification_rollups(self, notification_key: int) -> DeliveryBucket: ...
    async def subscriber_breakdowns(self, site_id: str) -> list[BreakdownCount]: ...
    async def search_subscribers(
        self, site_id: str, query: str, *, limit: int, after: int
    ) -> tuple[list[SubscriberRow], int | None]: ...
    async def take_job_lease(self, name: str, now: float, until: float) -> bool: ...
    async def prune_delivery_rows(self, cutoff: float, limit: int) -> int: ...
