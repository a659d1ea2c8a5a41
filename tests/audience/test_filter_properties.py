"""Random filter trees on 10,000 subscribers: on SQLite and on PostgreSQL alike, the store's
count (one SQL statement over the tag index) and the members a notification's delivery expands
(batch by batch, in key order) both equal an independent evaluator's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pushgate.audience.parse import FilterError, parse_filter
from pushgate.store.models import Audience, NewNotification
from tests.audience.conftest import (
    BROWSERS,
    COUNTRIES,
    EXTERNAL_IDS,
    HOSTS,
    HOUR,
    LANGUAGES,
    TAG_VALUES,
    ZONES,
    Population,
)
from tests.audience.evaluator import matches

WITHIN = ["12h", "2d", "7d", "36h", "30d"]


def _times(population_now: float) -> list[str]:
    hour = int(population_now // HOUR) * HOUR
    return [
        datetime.fromtimestamp(hour - k * HOUR, UTC).isoformat().replace("+00:00", "Z")
        for k in (0, 5, 48, 300, 1500)
    ]


def _pool(field: str, times: list[str]) -> list[Any]:
    if field.startswith("tags."):
        return [v for values in TAG_VALUES.values() for v in values] + ["sport", 3]
    return {
        "language": [lang for lang in LANGUAGES if lang] + ["EN", "en-us", "pt"],
        "timezone": [z for z in ZONES if z] + ["Europe/Paris"],
        "country": [c for c in COUNTRIES if c] + ["IN", "AU", "GB"],
        "browser": [b for b in BROWSERS if b],
        "push_service": sorted(set(HOSTS.values())),
        "external_id": [e for e in EXTERNAL_IDS if e] + ["u9"],
    }.get(field, times)


FIELDS = [f"tags.{name}" for name in TAG_VALUES] + [
    "tags.missing",
    "language",
    "timezone",
    "country",
    "browser",
    "push_service",
    "external_id",
    "created_at",
    "last_seen_at",
]


def leaves(times: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def leaf(draw: st.DrawFn) -> dict[str, Any]:
        field = draw(st.sampled_from(FIELDS))
        timed = field in ("created_at", "last_seen_at")
        if timed:
            ops = ["gt", "gte", "lt", "lte", "within", "exists", "not_exists"]
        elif field.startswith("tags."):
            ops = ["eq", "ne", "in", "not_in", "exists", "not_exists", "gt", "gte", "lt", "lte"]
        else:
            ops = ["eq", "ne", "in", "not_in", "exists", "not_exists"]
        op = draw(st.sampled_from(ops))
        if op in ("exists", "not_exists"):
            return {"field": field, "op": op}
        if op == "within":
            return {"field": field, "op": op, "value": draw(st.sampled_from(WITHIN))}
        if op in ("gt", "gte", "lt", "lte") and not timed:
            value: Any = draw(st.sampled_from([-3, 0, 1, 5, 7.5, 8, 2]))
            return {"field": field, "op": op, "value": value}
        pool = _pool(field, times)
        if op in ("in", "not_in"):
            value = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4))
        else:
            value = draw(st.sampled_from(pool))
        return {"field": field, "op": op, "value": value}

    return leaf()


def trees(times: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        leaves(times),
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda c: {"and": c}),
            st.lists(inner, min_size=1, max_size=3).map(lambda c: {"or": c}),
            inner.map(lambda c: {"not": c}),
        ),
        max_leaves=8,
    )


@st.composite
def filters(draw: st.DrawFn, now: float) -> dict[str, Any]:
    return draw(trees(_times(now)))


def _checked(raw: dict[str, Any]) -> Audience:
    try:
        return Audience(filter=parse_filter(raw))
    except FilterError:
        assume(False)  # deeper than 8: the parser's own tests cover the refusal
        raise


def test_store_counts_equal_the_evaluator(populations: list[Population]) -> None:
    now = populations[0].now

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(raw=filters(now))
    def check(raw: dict[str, Any]) -> None:
        audience = _checked(raw)
        expected = sum(matches(raw, row, now) for row in populations[0].rows)
        for population in populations:
            count = population.run(
                population.store.count_audience(population.site_id, audience, now)
            )
            assert count == expected, (population.backend, raw)

    check()


def test_expansion_reaches_exactly_the_evaluators_members(
    populations: list[Population],
) -> None:
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(raw=filters(populations[0].now))
    def check(raw: dict[str, Any]) -> None:
        audience = _checked(raw)
        for population in populations:
            members, start = population.run(_expanded(population, audience))
            expected = [row.key for row in population.rows if matches(raw, row, start)]
            assert members == expected, (population.backend, raw)

    check()


async def _expanded(population: Population, audience: Audience) -> tuple[list[int], float]:
    """The keys a new notification to `audience` expands to, in batches as the engine reads
    them, and when it started."""
    store = population.store
    notification, _ = await store.create_notification(
        population.site_id, NewNotification({"title": "t"}, audience, 60)
    )
    members: list[int] = []
    while True:
        batch = await store.expand_audience(notification, 1500, 0.0)
        members += [target.subscription_key for target in batch]
        if len(batch) < 1500:
            return members, notification.created_at
