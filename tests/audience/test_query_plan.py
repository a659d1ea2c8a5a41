"""The compiled SQL uses the indexes: tag equality and ranges read subscription_tags by
(site_id, name, kind, value), time ranges read subscriptions by (site_id, created_at) or
(site_id, last_seen_at); expansion probes a subscriber's tags by primary key. On SQLite by
EXPLAIN QUERY PLAN; on PostgreSQL by EXPLAIN (FORMAT JSON) after ANALYZE, with the arguments
bound as the store binds them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from pushgate.audience.parse import parse_filter
from pushgate.store.models import Audience
from pushgate.store.postgres import audience_sql as pg
from pushgate.store.sqlite.audience_sql import audience_condition
from tests.audience.conftest import HOUR, Population


def sqlite_plan(population: Population, raw: dict[str, Any], *, streaming: bool = False) -> str:
    audience = Audience(filter=parse_filter(raw))
    where, args = audience_condition(
        audience, population.site_id, population.now, streaming=streaming
    )
    sql = f"SELECT COUNT(*) FROM subscriptions WHERE site_id = ? AND {where}"
    with sqlite3.connect(population.database.removeprefix("sqlite:///")) as db:
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
def test_tag_leaves_search_the_tag_value_index(
    sqlite_population: Population, raw: dict[str, Any]
) -> None:
    found = sqlite_plan(sqlite_population, raw)
    assert "SEARCH subscription_tags USING COVERING INDEX subscription_tags_value" in found, found
    assert "(site_id=? AND name=? AND kind=? AND value" in found, found


@pytest.mark.parametrize(
    ("field", "index"),
    [("created_at", "subscriptions_created"), ("last_seen_at", "subscriptions_last_seen")],
)
def test_time_ranges_search_their_index(
    sqlite_population: Population, field: str, index: str
) -> None:
    for raw in (
        {"field": field, "op": "gt", "value": "2026-01-01T00:00:00Z"},
        {"field": field, "op": "within", "value": "7d"},
    ):
        found = sqlite_plan(sqlite_population, raw)
        assert f"USING COVERING INDEX {index} (site_id=? AND {field}>?)" in found, found


def test_a_three_leaf_filter_uses_an_index_for_each_tag(sqlite_population: Population) -> None:
    found = sqlite_plan(
        sqlite_population,
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


def test_expansion_probes_each_subscribers_tag_by_primary_key(
    sqlite_population: Population,
) -> None:
    found = sqlite_plan(
        sqlite_population, {"field": "tags.topic", "op": "eq", "value": "sports"}, streaming=True
    )
    assert "CORRELATED" in found and "USING PRIMARY KEY (subscription_key=? AND name=?)" in found


# PostgreSQL


def pg_plan(population: Population, raw: dict[str, Any], *, streaming: bool = False) -> Any:
    """The JSON plan of the count (or of an expansion batch) of `raw`, as the store runs it."""
    audience = Audience(filter=parse_filter(raw))
    args = pg.Args(population.site_id)
    where = pg.audience_condition(
        audience, population.site_id, population.now, args, streaming=streaming
    )
    if streaming:
        sql = (
            f"SELECT key FROM subscriptions WHERE site_id = $1 AND key > {args(0)} AND {where} "
            f"ORDER BY key LIMIT {args(1500)}"
        )
    else:
        sql = f"SELECT COUNT(*) FROM subscriptions WHERE site_id = $1 AND {where}"

    async def explain() -> Any:
        db = await asyncpg.connect(population.database)
        try:
            return json.loads(await db.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *args.values))
        finally:
            await db.close()

    return population.run(explain())[0]["Plan"]


def nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from nodes(child)


def index_reads(plan: dict[str, Any]) -> list[tuple[str, str]]:
    """(node type, index) of every index the plan reads."""
    return [(n["Node Type"], n["Index Name"]) for n in nodes(plan) if "Index Name" in n]


def hours_ago(population: Population, hours: int) -> str:
    at = datetime.fromtimestamp(population.now - hours * HOUR, UTC)
    return at.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("raw", "index"),
    [
        ({"field": "tags.topic", "op": "eq", "value": "sports"}, "subscription_tags_str"),
        ({"field": "tags.beta", "op": "eq", "value": True}, "subscription_tags_num"),
        ({"field": "tags.plan", "op": "eq", "value": 5}, "subscription_tags_num"),
        ({"field": "tags.score", "op": "gte", "value": 5}, "subscription_tags_num"),
        ({"field": "tags.plan", "op": "in", "value": ["pro", "free"]}, "subscription_tags_str"),
    ],
)
def test_postgres_tag_leaves_read_the_tag_value_index(
    postgres_population: Population, raw: dict[str, Any], index: str
) -> None:
    plan = pg_plan(postgres_population, raw)
    assert index in {name for _, name in index_reads(plan)}, plan
    assert not any(
        n["Node Type"] == "Seq Scan" and n["Relation Name"] == "subscription_tags"
        for n in nodes(plan)
    ), plan


@pytest.mark.parametrize(
    ("field", "index"),
    [("created_at", "subscriptions_created"), ("last_seen_at", "subscriptions_last_seen")],
)
def test_postgres_time_ranges_read_their_index(
    postgres_population: Population, field: str, index: str
) -> None:
    for raw in (
        {"field": field, "op": "gt", "value": hours_ago(postgres_population, 3)},
        {"field": field, "op": "within", "value": "3h"},
    ):
        plan = pg_plan(postgres_population, raw)
        assert index in {name for _, name in index_reads(plan)}, (raw, plan)


def test_postgres_a_three_leaf_filter_reads_an_index_for_each_tag(
    postgres_population: Population,
) -> None:
    plan = pg_plan(
        postgres_population,
        {
            "and": [
                {"field": "tags.topic", "op": "eq", "value": "sports"},
                {"field": "tags.beta", "op": "eq", "value": True},
                {"field": "last_seen_at", "op": "within", "value": "3h"},
            ]
        },
    )
    used = {name for _, name in index_reads(plan)}
    assert {"subscription_tags_str", "subscription_tags_num"} <= used, plan


def test_postgres_expansion_reads_in_key_order_and_probes_tags_by_primary_key(
    postgres_population: Population,
) -> None:
    plan = pg_plan(
        postgres_population,
        {"field": "tags.topic", "op": "eq", "value": "sports"},
        streaming=True,
    )
    # A batch costs what it reads: subscribers in key order until the limit, each probed;
    # joined instead, every batch would read and sort the tag's whole match.
    assert not any(n["Node Type"] == "Sort" for n in nodes(plan)), plan
    reads = index_reads(plan)
    assert reads[0][1] in ("subscriptions_site", "subscriptions_pkey"), plan
    assert ("Index Scan", "subscription_tags_pkey") in reads, plan
