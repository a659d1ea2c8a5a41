"""The subscriber service the dashboard and the API share: breakdowns from the counters the
store keeps (never a GROUP BY over the subscriptions per page view), search, and delete."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from pushgate.api.context import AppContext
from pushgate.audience.countries import country_of_zone
from pushgate.store import Store
from pushgate.store.stats_rows import DIMENSIONS, SubscriberRow

DIMENSION_LABELS = {
    "browser": "Browser",
    "push_service": "Push service",
    "language": "Language",
    "country": "Country",
    "timezone": "Time zone",
}
PUSH_SERVICE_NAMES = {
    "fcm": "FCM (Chrome, Edge)",
    "mozilla": "Mozilla",
    "apple": "Apple",
    "wns": "WNS (Windows)",
    "other": "Other",
}
BROWSER_NAMES = {
    "chrome": "Chrome",
    "firefox": "Firefox",
    "safari": "Safari",
    "edge": "Edge",
    "opera": "Opera",
    "samsung": "Samsung Internet",
    "other": "Other",
}
NAMES = {"push_service": PUSH_SERVICE_NAMES, "browser": BROWSER_NAMES}
UNKNOWN = "Unknown"
MAX_QUERY_CHARS = 300


@dataclass(frozen=True)
class Share:
    label: str
    count: int
    percent: float  # of the breakdown's total


@dataclass(frozen=True)
class Breakdown:
    dimension: str
    title: str
    rows: list[Share]


async def breakdowns(store: Store, site_id: str) -> list[Breakdown]:
    """Per dimension, each value's count and share of the subscribers, most first."""
    by_dimension: dict[str, list[tuple[str, int]]] = {d: [] for d in DIMENSIONS}
    for row in await store.subscriber_breakdowns(site_id):
        by_dimension.setdefault(row.dimension, []).append((row.value, row.count))
    if not any(value for value, _ in by_dimension["country"]):
        by_dimension["country"] = _countries_of_zones(by_dimension["timezone"])
    result = []
    for dimension in DIMENSIONS:
        pairs = by_dimension[dimension]
        total = sum(count for _, count in pairs) or 1
        rows = [
            Share(_label(dimension, value), count, round(100 * count / total, 1))
            for value, count in sorted(pairs, key=lambda p: (-p[1], p[0]))
        ]
        result.append(Breakdown(dimension, DIMENSION_LABELS[dimension], rows))
    return result


def _countries_of_zones(zones: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Without a GeoIP country for anyone (no PUSHGATE_GEOIP_DATABASE), each subscriber's
    country is its time zone's, as audience filters read it: exact, from the zone counters."""
    counts: Counter[str] = Counter()
    for zone, count in zones:
        counts[country_of_zone(zone) or ""] += count
    return list(counts.items())


def _label(dimension: str, value: str) -> str:
    if not value:
        return UNKNOWN
    return NAMES.get(dimension, {}).get(value, value)


async def search(
    store: Store, site_id: str, query: str, *, limit: int, after: int
) -> tuple[list[SubscriberRow], int | None]:
    """A page of subscriptions matching `query`: a subscription id, an external id, a tag
    name, or name=value."""
    return await store.search_subscribers(
        site_id, query.strip()[:MAX_QUERY_CHARS], limit=limit, after=after
    )


async def remove_subscriber(ctx: AppContext, site_id: str, subscription_id: str) -> bool:
    """Delete one subscription (counted as unsubscribed) and tell the event hooks; False if
    the site has no such subscription. DELETE /api/v1/subscriptions/{id} and the dashboard's
    Delete button both come here."""
    removed = await ctx.store.remove_subscription(site_id, subscription_id)
    if removed and ctx.hooks is not None:
        await ctx.hooks.record(site_id, "unsubscribed", subscription_id)
    return removed
