"""What the stats roll-ups cost a send: the store writes of one 10,000-subscriber send
(expansion, accepted outcomes in batches of 1,000 as the engine flushes them, 1 % gone answers
through record_results, and 1,000 browser events), then 2,000 subscribes 50 at a time (on
PostgreSQL they contend for the site's roll-up rows), timed on the code given by PYTHONPATH, so
that the same script times the tree before the roll-ups and after:

    git archive fb9e6d7 server | tar -x -C /tmp/before        # schema 15, no roll-up writes
    PYTHONPATH=/tmp/before/server .venv/bin/python -m bench.rollup_cost   # before
    .venv/bin/python -m bench.rollup_cost                                  # after
    .venv/bin/python -m bench.rollup_cost --database postgresql://…/db     # on PostgreSQL

Prints one JSON line: the median of --runs sends of each phase, in milliseconds of wall
clock and of this process's CPU (all its threads: steadier on a busy machine)."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from pushgate.store import open_store
from pushgate.store.models import (
    Audience,
    DeliveryRef,
    DeliveryResult,
    NewNotification,
    NewSubscription,
)

P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
AUTH = "tBHItJI5svbpez7KI4CCXg"
SUBSCRIBERS = 10_000
FLUSH = 1_000  # outcomes per flush, as delivery/outcomes.py writes them at most
EXPAND = 500  # deliveries per expansion, as delivery/run.py reads them
GONE_EVERY = 100
EVENTS = 1_000
SUBSCRIBES = 2_000  # one at a time through upsert_subscription, as the public API writes them
CONCURRENT = 50  # at once: on PostgreSQL each holds its site's roll-up rows until it commits


async def one_send(url: str, tag: str) -> dict[str, float]:
    async with open_store(url) as store:
        site, _ = await store.create_site(f"bench-{tag}", ["https://bench.example"])
        subs = [
            NewSubscription(f"https://fcm.googleapis.com/fcm/send/{tag}-{i}", P256DH, AUTH)
            for i in range(SUBSCRIBERS)
        ]
        await store.add_subscriptions_bulk(site.id, subs)
        new = NewNotification({"title": "t"}, Audience(everyone=True), 3600)
        n, _ = await store.create_notification(site.id, new)
        now = time.time()
        started, cpu_started = time.perf_counter(), time.process_time()
        keys: list[int] = []
        while batch := await store.expand_audience(n, EXPAND, now + 60):
            keys += [t.subscription_key for t in batch]
        expanded, cpu_expanded = time.perf_counter(), time.process_time()
        for i in range(0, len(keys), FLUSH):
            chunk = keys[i : i + FLUSH]
            gone = chunk[::GONE_EVERY]
            results = [DeliveryResult(n.key, k, "gone", 410) for k in gone]
            await store.record_results(results, now)
            await store.record_accepted(n.key, sorted(set(chunk) - set(gone)), 201, now)
        settled, cpu_settled = time.perf_counter(), time.process_time()
        for k in keys[1 : EVENTS + 1]:
            await store.record_event(DeliveryRef(n.key, k, site.id), "delivered", None)
        events, cpu_events = time.perf_counter(), time.process_time()
        gate = asyncio.Semaphore(CONCURRENT)

        async def subscribe(i: int) -> None:
            async with gate:
                endpoint = f"https://fcm.googleapis.com/fcm/send/{tag}-new-{i}"
                await store.upsert_subscription(site.id, NewSubscription(endpoint, P256DH, AUTH))

        await asyncio.gather(*(subscribe(i) for i in range(SUBSCRIBES)))
        subscribed = time.perf_counter()
    return {
        "expand_ms": (expanded - started) * 1000,
        "outcomes_ms": (settled - expanded) * 1000,
        "events_ms": (events - settled) * 1000,
        "subscribes_ms": (subscribed - events) * 1000,
        "expand_cpu_ms": (cpu_expanded - cpu_started) * 1000,
        "outcomes_cpu_ms": (cpu_settled - cpu_expanded) * 1000,
        "events_cpu_ms": (cpu_events - cpu_settled) * 1000,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", help="a PostgreSQL URL (default: a new SQLite file)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database or f"sqlite:///{Path(folder) / 'rollups.db'}"
        runs = [await one_send(url, f"r{i}") for i in range(args.runs)]
    print(json.dumps({k: round(statistics.median(r[k] for r in runs), 1) for k in runs[0]}))


if __name__ == "__main__":
    asyncio.run(main())
