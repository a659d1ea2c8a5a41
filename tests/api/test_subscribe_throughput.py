"""Subscribes in flight together (issue #14's group commit): each is answered for itself, all
are stored; a refused one gets its own 400; a store that cannot write answers 503 to every
subscribe of the transaction that failed, and nothing of it is stored."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import httpx

from pushgate.store.sqlite.store import SQLiteStore
from tests.api.asgi import in_process
from tests.api.test_subscriptions import VALID_AUTH, VALID_P256DH, body
from tests.conftest import ORIGIN, UNUSED_PUSH_HOST, Site
from tests.store.test_subscribe_group_commit import until, writer_of

IN_FLIGHT = 120


def endpoint(n: int) -> str:
    return f"https://{UNUSED_PUSH_HOST}/push/many-{n}"


def subscribe_body(n: int, **extra: Any) -> dict[str, Any]:
    extra.setdefault("language", ("en-US", "de-DE", "ja")[n % 3])
    extra.setdefault("tags", {"n": n, "even": n % 2 == 0})
    return body(endpoint(n), **extra)


async def test_many_concurrent_subscribes_are_each_answered_and_all_stored(
    site: Site, client: httpx.AsyncClient
) -> None:
    async def post(n: int) -> httpx.Response:
        return await client.post(
            site.subscriptions_url, json=subscribe_body(n), headers={"Origin": ORIGIN}
        )

    first = await asyncio.gather(*(post(n) for n in range(IN_FLIGHT)))
    assert [r.status_code for r in first] == [201] * IN_FLIGHT
    assert [r.json()["endpoint"] for r in first] == [endpoint(n) for n in range(IN_FLIGHT)]
    assert [r.json()["tags"]["n"] for r in first] == list(range(IN_FLIGHT))
    ids = [r.json()["id"] for r in first]
    assert len(set(ids)) == IN_FLIGHT
    again = await asyncio.gather(*(post(n) for n in range(0, IN_FLIGHT, 2)))
    assert [r.status_code for r in again] == [200] * (IN_FLIGHT // 2)
    assert [r.json()["id"] for r in again] == ids[::2]  # refreshed, not added

    assert sorted(s["id"] for s in await stored_all(client, site)) == sorted(ids)
    count = await client.post(
        "/api/v1/audiences/count",
        json={"audience": {"filter": {"field": "tags.even", "op": "eq", "value": True}}},
        headers=site.admin_headers,
    )
    assert count.status_code == 200, count.text
    assert count.json()["count"] == IN_FLIGHT // 2  # the tag index holds every batch's tags


async def test_one_invalid_subscribe_among_many_gets_its_own_400(
    site: Site, client: httpx.AsyncClient
) -> None:
    bodies = [subscribe_body(n) for n in range(40)]
    bodies[17] = body(endpoint(17), p256dh=VALID_P256DH[:-4], auth=VALID_AUTH)
    answers = await asyncio.gather(
        *(client.post(site.subscriptions_url, json=b, headers={"Origin": ORIGIN}) for b in bodies)
    )
    assert answers[17].status_code == 400, answers[17].text
    assert answers[17].json()["error"]["code"] == "invalid_key"
    assert [r.status_code for i, r in enumerate(answers) if i != 17] == [201] * 39
    endpoints = {s["endpoint"] for s in await stored_all(client, site)}
    assert endpoints == {endpoint(n) for n in range(40) if n != 17}


async def stored_all(client: httpx.AsyncClient, site: Site) -> list[dict[str, Any]]:
    answer = await client.get(
        "/api/v1/subscriptions", params={"limit": 500}, headers=site.admin_headers
    )
    return list(answer.json()["data"])


async def test_a_write_failure_answers_503_to_every_subscribe_of_its_transaction(
    tmp_path: Path,
) -> None:
    async with in_process(tmp_path) as app:
        assert isinstance(app.store, SQLiteStore)
        store = app.store
        writer = writer_of(store)
        writer.gate = asyncio.Event()  # the first transaction waits at BEGIN

        async def post(n: int) -> httpx.Response:
            return await app.client.post(
                app.subscriptions_url, json=subscribe_body(n), headers={"Origin": ORIGIN}
            )

        held = asyncio.ensure_future(post(0))
        await until(lambda: store._committer is not None and not store._upserts)
        batch = asyncio.ensure_future(asyncio.gather(*(post(n) for n in range(1, 26))))
        await until(lambda: len(store._upserts) == 25)

        def disk_full(sql: str, params: Any) -> Exception | None:
            many = sql.startswith("INSERT INTO subscriptions ") and len(params) > 1
            return sqlite3.OperationalError("database or disk is full") if many else None

        writer.fail = disk_full
        writer.gate.set()
        assert (await held).status_code == 201
        answers = await batch
        assert [r.status_code for r in answers] == [503] * 25
        assert {r.json()["error"]["code"] for r in answers} == {"store_unavailable"}
        listed = await app.client.get("/api/v1/subscriptions", headers=app.admin_headers)
        assert [s["endpoint"] for s in listed.json()["data"]] == [endpoint(0)]
        writer.fail = lambda sql, params: None
        retried = await post(3)
        assert retried.status_code == 201, retried.text
