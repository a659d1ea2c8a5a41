"""Time series of a site's subscribers and notifications, read from the roll-ups.

One business rule per function: what a range may be (ISO dates or times, a span per interval,
a cap on the points), and how the series is filled (every bucket present, zero when nothing
happened; the running total of subscribers counts from the site's first day)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pushgate.store import Store
from pushgate.store.stats_rows import (
    DAY_SECONDS,
    DELIVERY_COUNTS,
    SPAN_SECONDS,
    bucket_of,
)

INTERVALS = tuple(SPAN_SECONDS)
DEFAULT_POINTS = {"day": 30, "hour": 24}  # without `from`: this many buckets up to `to`
MAX_POINTS = {"day": 732, "hour": 744}  # two years of days; 31 days of hours (retention)


class RangeError(ValueError):
    """A from/to/interval that cannot be served; the message says why, for a 400."""


@dataclass(frozen=True)
class StatsRange:
    interval: str
    start: int  # the first bucket's start, epoch seconds
    end: int  # the end of the last bucket (exclusive)

    @property
    def starts(self) -> range:
        return range(self.start, self.end, SPAN_SECONDS[self.interval])


def parse_time(text: str, name: str) -> float:
    """An ISO 8601 date (midnight UTC) or date and time (UTC unless it names its offset)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise RangeError(
            f"{name} must be an ISO 8601 date or time, such as 2026-12-01 or "
            f"2026-12-01T10:00:00Z; got {text[:40]!r}"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_range(params: dict[str, str], now: float) -> StatsRange:
    """`from`, `to` (default: now) and `interval` (default: day) of a stats request. Buckets
    are whole UTC days or hours: `from` rounds down, `to` up."""
    interval = params.get("interval") or "day"
    if interval not in INTERVALS:
        raise RangeError("interval must be day or hour")
    width = SPAN_SECONDS[interval]
    end_at = parse_time(params["to"], "to") if params.get("to") else now
    end = bucket_of(end_at, interval)
    if end < end_at:
        end += width
    if params.get("from"):
        start = bucket_of(parse_time(params["from"], "from"), interval)
    else:
        start = end - DEFAULT_POINTS[interval] * width
    if start >= end:
        raise RangeError("from must be before to")
    if (end - start) // width > MAX_POINTS[interval]:
        days = MAX_POINTS[interval] * width // DAY_SECONDS
        raise RangeError(f"from and to may be at most {days} days apart with interval={interval}")
    return StatsRange(interval, start, end)


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def subscriber_series(store: Store, site_id: str, span: StatsRange) -> list[dict[str, Any]]:
    """Per bucket: new, unsubscribed, gone, net, and the total at the bucket's end."""
    rows = {
        r.bucket: r
        for r in await store.subscriber_rollups(site_id, span.interval, span.start, span.end)
    }
    total = await store.subscriber_net_before(site_id, span.start)
    series = []
    for start in span.starts:
        row = rows.get(start)
        new, unsubscribed, gone = (row.new, row.unsubscribed, row.gone) if row else (0, 0, 0)
        net = new - unsubscribed - gone
        total += net
        series.append(
            {
                "t": iso(start),
                "new": new,
                "unsubscribed": unsubscribed,
                "gone": gone,
                "net": net,
                "total": total,
            }
        )
    return series


async def notification_series(store: Store, site_id: str, span: StatsRange) -> list[dict[str, Any]]:
    """Per bucket: what the push services accepted, and what the browsers reported."""
    rows = {
        r.bucket: r
        for r in await store.delivery_rollups(site_id, span.interval, span.start, span.end)
    }
    series = []
    for start in span.starts:
        row = rows.get(start)
        point: dict[str, Any] = {"t": iso(start)}
        point.update({name: getattr(row, name) if row else 0 for name in DELIVERY_COUNTS})
        series.append(point)
    return series
