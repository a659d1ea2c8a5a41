"""The compiled SQL uses the indexes: tag equality and ranges read subscription_tags by
(site_id, name, kind, value), time ranges read subscriptions by (site_id, created_at) or
(site_id, last_seen_at); expansion probes a subscriber's tags by primary key."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from pushgate.audience.parse import parse_filter
from pushgate.store.models import Audience
from pushgate.store.sqlite.audience_sql import audience_condition
from tests.audience.conftest import Population


def plan(population: Population, raw: dict[str, Any], *, streaming: bool = False) -> str:
    audience = Audience(filter=parse_filter(raw))
    where, args = audience_condition(
        audience, population.site_id, population.now, streaming=streaming
    )
    sql = f"SELECT COUNT(*) FROM subscriptions WHERE site_id = ? AND {where}"
    with sqlite3.connect(population.path) as db:
        rows = db.execute(f"EXPLAIN QUERY PLAN {sql}", (population.site_id, *args)).fetchall()
    return "\n".join(row[-1] for row in rows)


@pytest.mark.parametrize(
    "raw",
    [
        {"field": "tags.topic", "op": "eq", "value": "sports"},
        {"field": "tags.score", "op": "gte", "value": 5},
        {"field": "tags.plan", "op": "in", "value": ["pro", "free"]},
    ],
)
def test_tag_leaves_search_the_tag_value_index(population: Population, raw: dict[str, Any]) -> None:
    found = plan(population, raw)
    assert "SEARCH subscription_tags USING COVERING INDEX subscription_tags_value" in found, found
    assert "(site_id=? AND name=? AND kind=? AND value" in found, found


@pytest.mark.parametrize(
    ("field", "index"),
    [("created_at", "subscriptions_created"), ("last_seen_at", "subscriptions_last_seen")],
)
def test_time_ranges_search_their_index(population: Population, field: str, index: str) -> None:
    for raw in (
        {"field": field, "op": "gt", "value": "2026-01-01T00:00:00Z"},
        {"field": field, "op": "within", "value": "7d"},
    ):
        found = plan(population, raw)
        assert f"USING COVERING INDEX {index} (site_id=? AND {field}>?)" in found, found


def test_a_three_leaf_filter_uses_an_index_for_each_tag(population: Population) -> None:
    found = plan(
        population,
        {
            "and": [
                {"field": "tags.topic", "op": "eq", "value": "sports"},
                {"field": "tags.beta", "op": "eq", "value": True},
                {"field": "last_seen_at", "op": "within", "value": "7d"},
            ]
        },
    )
    # One tag leaf is read from the value index; the other is probed per subscriber it yields,
    # by primary key (a second uncorrelated set cost a temporary b-tree of all its keys).
    assert found.count("USING COVERING INDEX subscription_tags_value") == 1, found
    assert "USING PRIMARY KEY (subscription_key=? AND name=?)" in found, found
    assert "subscriptions_last_seen" in found, found


def test_expansion_probes_each_subscribers_tag_by_primary_key(population: Population) -> None:
    found = plan(population, {"field": "tags.topic", "op": "eq", "value": "sports"}, streaming=True)
    assert "CORRELATED" in found and "USING PRIMARY KEY (subscription_key=? AND name=?)" in found
