"""A notification's delivery timeline ("delivery over time (per minute)" on its dashboard page)
for a send of 1,000,000 deliveries, read from the minute roll-ups (schema 18) and, as before
them, counted from the per-delivery rows (the store's fallback runs the very query the
timeline ran before, so deleting the notification's minute roll-ups times the old read).

Builds a SQLite store directly: one notification whose deliveries are accepted over about
20 minutes and reported delivered by 80 % of the browsers over the next hours, its minute
roll-ups counted from those rows (what the outcome and event writes keep; the store tests
check that they agree), and a year of other notifications' minute roll-ups (three a day, 300
minutes each) around it in the table. Not a test: run it by hand.

    .venv/bin/python -m bench.timeline_scale                  # 1,000,000 deliveries
    .venv/bin/python -m bench.timeline_scale --size 100000 --requests 5

Prints one JSON line: the median and slowest read of each way, in milliseconds."""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from pushgate.store import open_store
from pushgate.store.models import Audience, NewNotification

START = 1_790_000_000.0  # the send's first second
SEND_SECONDS = 1_200  # accepted over 20 minutes
DELIVERED_EVERY = 5  # one browser in five never reports delivered
REPORT_SECONDS = 6 * 3_600  # the reports trickle in over 6 hours
OTHERS = 3 * 365  # a year of other notifications, three a day
OTHER_MINUTES = 300  # minute roll-ups each


def deliveries(key: int, size: int) -> Iterator[tuple[object, ...]]:
    for i in range(size):
        yield key, i, "accepted", 1, START + SEND_SECONDS * i / size


def events(key: int, size: int) -> Iterator[tuple[object, ...]]:
    for i in range(size):
        if i % DELIVERED_EVERY:
            # most within seconds of the send, a tail spread over the hours
            late = REPORT_SECONDS * ((i * 7919) % size / size) ** 4
            yield key, i, "delivered", None, START + SEND_SECONDS * i / size + 2 + late


def build(path: Path, site_id: str, key: int, size: int) -> None:
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "INSERT INTO deliveries (notification_key, subscription_key, state, attempts, "
            "accepted_at) VALUES (?, ?, ?, ?, ?)",
            deliveries(key, size),
        )
        db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", events(key, size))
        db.execute(
            "INSERT INTO delivery_rollups (site_id, span, bucket, notification_key, accepted, "
            "delivered) SELECT ?, 'minute', minute, ?, SUM(a), SUM(d) FROM ("
            " SELECT CAST(accepted_at / 60 AS INTEGER) * 60 AS minute, 1 AS a, 0 AS d"
            " FROM deliveries WHERE notification_key = ?"
            " UNION ALL SELECT CAST(at / 60 AS INTEGER) * 60, 0, 1 FROM events"
            " WHERE notification_key = ?) GROUP BY minute",
            (site_id, key, key, key),
        )
        db.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?), "
            "m(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM m WHERE j < ? - 1) "
            "INSERT INTO delivery_rollups (site_id, span, bucket, notification_key, accepted, "
            "delivered) SELECT ?, 'minute', CAST(? - i * 28800 AS INTEGER) / 60 * 60 + j * 60, "
            "? + i, 10, 8 FROM n, m",
            (OTHERS, OTHER_MINUTES, site_id, START, key),
        )
    db.close()


async def timed(read: Callable[[], Awaitable[object]], requests: int) -> dict[str, float]:
    await read()  # warm-up
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        await read()
        times.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "timeline.db"
        async with open_store(f"sqlite:///{path}") as store:
            site, _ = await store.create_site("scale", ["https://scale.example"])
            new = NewNotification({"title": "big"}, Audience(everyone=True), 3600)
            n, _ = await store.create_notification(site.id, new, now=START)
        build(path, site.id, n.key, args.size)
        report: dict[str, object] = {"deliveries": args.size}
        async with open_store(f"sqlite:///{path}") as store:
            rolled = await store.delivery_timeline(n.key)
            report["minutes"] = len(rolled)
            report["rollups"] = await timed(lambda: store.delivery_timeline(n.key), args.requests)
            db = sqlite3.connect(path)
            with db:  # the rows as before schema 18: the store counts them itself
                db.execute(
                    "DELETE FROM delivery_rollups WHERE notification_key = ? AND span = 'minute'",
                    (n.key,),
                )
            db.close()
            counted = await store.delivery_timeline(n.key)
            assert counted == rolled, "the minute roll-ups disagree with the rows"
            report["rows"] = await timed(lambda: store.delivery_timeline(n.key), args.requests)
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
