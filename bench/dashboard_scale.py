"""Issue #12's scale target, measured: "a dashboard page for a site with 1,000,000 subscribers
and a year of notifications renders in under 300 ms".

Builds such a site directly in a SQLite store (the bulk import, which keeps the breakdown
counters; creation dates spread over the last year with the daily roll-ups rebuilt from them;
three notifications a day for 365 days with their counters and day roll-ups), starts
`pushgate serve` on it, logs in, and times the Subscribers page (and the stats API's year of
days) over HTTP. Not a test: run it by hand.

    .venv/bin/python -m bench.dashboard_scale                 # 1,000,000 subscribers
    .venv/bin/python -m bench.dashboard_scale --size 100000 --requests 10

Prints one JSON line with the median and slowest time of each URL, in milliseconds."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from pushgate.dashboard.accounts import create_operator
from pushgate.store import open_store
from pushgate.store.models import NewSubscription

P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
AUTH = "tBHItJI5svbpez7KI4CCXg"
CHUNK = 20_000
DAY = 86_400
YEAR_DAYS = 365
NOTIFICATIONS_PER_DAY = 3
PASSWORD = "a long enough password"
BROWSERS = ("chrome", "chrome", "chrome", "firefox", "safari", "edge", "samsung")
HOSTS = (
    "https://fcm.googleapis.com/fcm/send/",
    "https://updates.push.services.mozilla.com/wpush/v2/",
    "https://web.push.apple.com/",
)
LANGUAGES = ("en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "pt-BR", "ja-JP", "hi-IN")
ZONES = ("Europe/Berlin", "Europe/London", "America/New_York", "Asia/Tokyo", "Asia/Kolkata")
COUNTRIES = ("DE", "GB", "US", "JP", "IN", "FR", "BR")


def subscriber(i: int) -> NewSubscription:
    return NewSubscription(
        f"{HOSTS[i % len(HOSTS)]}scale-{i}",
        P256DH,
        AUTH,
        timezone=ZONES[i % len(ZONES)],
        language=LANGUAGES[i % len(LANGUAGES)],
        browser=BROWSERS[i % len(BROWSERS)],
        country=COUNTRIES[i % len(COUNTRIES)],
        external_id=f"user-{i}" if i % 3 == 0 else None,
    )


async def fill(database: Path, size: int) -> tuple[str, str]:
    async with open_store(f"sqlite:///{database}") as store:
        site, api_key = await store.create_site("scale", ["https://scale.example"])
        for start in range(0, size, CHUNK):
            chunk = [subscriber(i) for i in range(start, min(size, start + CHUNK))]
            await store.add_subscriptions_bulk(site.id, chunk)
        await create_operator(store, "bench@example.com", "admin", [], PASSWORD, time.time())
    spread_over_a_year(database, site.id)
    return site.id, api_key


def spread_over_a_year(database: Path, site_id: str) -> None:
    """Creation dates over the last year, the day roll-ups rebuilt from them (with some churn
    that keeps each day's net), and a year of notifications with counters and roll-ups."""
    now = time.time()
    today = int(now // DAY) * DAY
    db = sqlite3.connect(database)
    with db:
        db.execute(
            "UPDATE subscriptions SET created_at = ? - (key % ?) * ? WHERE site_id = ?",
            (now, YEAR_DAYS, DAY, site_id),
        )
        db.execute("DELETE FROM subscriber_rollups WHERE site_id = ?", (site_id,))
        db.execute(
            "INSERT INTO subscriber_rollups (site_id, span, bucket, new, unsubscribed, gone) "
            "SELECT site_id, 'day', CAST(created_at / 86400 AS INTEGER) * 86400, "
            "COUNT(*) + COUNT(*) / 20, COUNT(*) / 50, COUNT(*) / 20 - COUNT(*) / 50 "
            "FROM subscriptions WHERE site_id = ? GROUP BY 1, 2, 3",
            (site_id,),
        )
        for day in range(YEAR_DAYS):
            for k in range(NOTIFICATIONS_PER_DAY):
                created = today - day * DAY + k * 3600
                cur = db.execute(
                    "INSERT INTO notifications (id, site_id, payload, audience, ttl, "
                    "request_hash, status, created_at, expanded, targeted, accepted, delivered, "
                    "clicked, dismissed, failed, gone, pruned) VALUES (?, ?, ?, '{\"everyone\": "
                    "true}', 86400, 'h', 'done', ?, 1, 1000000, 990000, 900000, 30000, "
                    "100000, 5000, 5000, ?)",
                    (f"n-{day}-{k}", site_id, json.dumps({"title": f"Day {day}"}), created,
                     day > 30),
                )  # fmt: skip
                db.execute(
                    "INSERT INTO delivery_rollups (site_id, span, bucket, notification_key, "
                    "accepted, delivered, clicked, dismissed, failed, gone) "
                    "VALUES (?, 'day', ?, ?, 990000, 900000, 30000, 100000, 5000, 5000)",
                    (site_id, int(created // DAY) * DAY, cur.lastrowid),
                )
    db.execute("ANALYZE")
    db.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(database: Path, port: int) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "PUSHGATE_DATABASE": f"sqlite:///{database}",
        "PUSHGATE_PORT": str(port),
        "PUSHGATE_HOST": "127.0.0.1",
        "PUSHGATE_VAPID_SUBJECT": "mailto:bench@example.com",
        "PUSHGATE_LOG_LEVEL": "warning",
    }
    proc = subprocess.Popen([sys.executable, "-m", "pushgate", "serve"], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("the gateway did not start")


def timed(client: httpx.Client, url: str, requests: int) -> dict[str, float]:
    client.get(url).raise_for_status()  # warm: templates compiled, pages cached
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get(url).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "scale.db"
        started = time.monotonic()
        site_id, api_key = asyncio.run(fill(database, args.size))
        print(f"filled {args.size} in {time.monotonic() - started:.0f} s", file=sys.stderr)
        port = free_port()
        proc = serve(database, port)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                form = client.get("/dashboard/login").text
                token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
                login = {"csrf_token": token, "email": "bench@example.com", "password": PASSWORD}
                assert client.post("/dashboard/login", data=login).status_code == 303
                base = f"/dashboard/sites/{site_id}/subscribers"
                figures = {
                    "subscribers": args.size,
                    "page_30_days": timed(client, base, args.requests),
                    "page_365_days": timed(client, base + "?days=365", args.requests),
                    "page_search_external_id": timed(client, base + "?q=user-3", args.requests),
                    "page_search_no_match": timed(client, base + "?q=nobody", args.requests),
                }
                client.headers["Authorization"] = f"Bearer {api_key}"
                year = "/api/v1/stats/{}?from=" + time.strftime(
                    "%Y-%m-%d", time.gmtime(time.time() - YEAR_DAYS * DAY)
                )
                for kind in ("subscribers", "notifications"):
                    figures[f"api_{kind}_365_days"] = timed(
                        client, year.format(kind), args.requests
                    )
        finally:
            proc.terminate()
            proc.wait(10)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
