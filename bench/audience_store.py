"""The audience benchmark's store: N subscribers with ~10 typed tags, ~400 zones, 20 languages.

Filled once per size and sink base port through the bulk import (`import_subscriptions`) and
cached in `bench/out/audience-N-pBASE.db` with the site's id and API key beside it (`.json`,
written last: a fill cut short leaves no cache). Each run works on a copy, so the broadcasts
and the campaign of one run never reach the next. Subscriber i is the same in every fill
(a seeded generator), with the same keys and endpoints as every other row of the bench.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import sqlite3
import zoneinfo
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from bench.env import BenchEnv
from bench.gateway import BULK_CHUNK, BenchSite, _allowed_hosts, create_site
from pushgate.store import open_store
from pushgate.store.models import NewSubscription, TagValue
from pushgate.subscribers import import_subscriptions
from pushgate.webpush.allowlist import EndpointPolicy

CACHE_VERSION = 1  # bump when what a subscriber holds changes: older caches are refilled
SEED = 9  # issue #9
ZONES = 400
CREATED_SPREAD_S = 365 * 86_400  # created_at spread over the last year
SEEN_SPREAD_S = 30 * 86_400  # last_seen_at over the last month
LANGUAGES = (
    "en", "en-US", "en-GB", "en-IN", "de", "de-DE", "de-AT", "fr", "fr-FR", "fr-CA",
    "es", "es-MX", "pt-BR", "it", "nl", "pl", "ja", "ko", "hi", "ar",
)  # fmt: skip
TOPICS = ("politics", "sports", "tech", "business", "culture", "science")
CITIES = tuple(f"city-{n:02d}" for n in range(50))
DEVICES = ("desktop", "mobile", "tablet")
ODD_ZONES = ("America/St_Johns", "Asia/Kathmandu", "Asia/Kolkata", "Australia/Lord_Howe")
PRO_SHARE = 0.10  # the segment the broadcast goes to: tags.plan eq "pro"

# The count the issue times: three leaves, a tag eq, a number gt, a language in.
COUNT_FILTER = {
    "and": [
        {"field": "tags.topic", "op": "eq", "value": "sports"},
        {"field": "tags.score", "op": "gt", "value": 50},
        {"field": "language", "op": "in", "value": ["en", "de", "fr"]},
    ]
}
SEGMENT_NAME = "bench-pro"
SEGMENT_FILTER = {"field": "tags.plan", "op": "eq", "value": "pro"}


def bench_zones(count: int = ZONES) -> list[str]:
    """`count` IANA zones, the same every run: canonical-looking Area/City names, sorted, spread
    evenly over tzdata's list so that every continent and odd offset (+5:45, -3:30) is in."""
    names = sorted(
        z
        for z in zoneinfo.available_timezones()
        if "/" in z and not z.startswith(("Etc/", "SystemV/", "US/", "Canada/", "Brazil/"))
    )
    odd = [z for z in ODD_ZONES if z in names]
    rest = [z for z in names if z not in odd]
    step = max(1, len(rest) // (count - len(odd)))
    return sorted(odd + rest[::step][: count - len(odd)])


def _plan(rng: random.Random) -> str:
    draw = rng.random()
    return "pro" if draw < PRO_SHARE else ("team" if draw < 0.25 else "free")


def subscriber_tags(rng: random.Random) -> dict[str, TagValue]:
    """Ten typed tags: four strings, four numbers (ints and floats), two booleans."""
    return {
        "topic": rng.choice(TOPICS),
        "plan": _plan(rng),
        "city": rng.choice(CITIES),
        "device": rng.choice(DEVICES),
        "score": rng.randrange(101),
        "visits": rng.randrange(1, 500),
        "spend": round(rng.random() * 200, 2),
        "cohort": rng.randrange(52),
        "beta": rng.random() < 0.2,
        "newsletter": rng.random() < 0.5,
    }


def _chunk(
    env: BenchEnv, rng: random.Random, zones: list[str], sampled: dict[int, str], span: range
) -> list[NewSubscription]:
    subs = []
    for i in span:
        p256dh, auth = env.keys.public_b64(i)
        subs.append(
            NewSubscription(
                env.endpoint(i, sampled),
                p256dh,
                auth,
                timezone=zones[i % len(zones)],
                language=rng.choice(LANGUAGES),
                tags=subscriber_tags(rng),
            )
        )
    return subs


async def _fill(env: BenchEnv, site: BenchSite, size: int, log: Callable[[str], None]) -> int:
    rng, zones = random.Random(SEED), bench_zones()
    policy = EndpointPolicy(_allowed_hosts(env))
    sampled = env.endpoint_of(size)
    added = 0
    async with open_store(site.database) as store:
        for start in range(0, size, BULK_CHUNK):
            span = range(start, min(size, start + BULK_CHUNK))
            subs = _chunk(env, rng, zones, sampled, span)
            added += await import_subscriptions(store, policy, site.id, subs)
            if start // BULK_CHUNK % 10 == 9:
                log(f"[{size:,}] audience store: {added:,} subscribers")
    return added


def _spread_dates(path: Path) -> None:
    """created_at over the last year and last_seen_at over the last month, deterministic per
    row: the bulk import stamps every row with the time of its import."""
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE subscriptions SET created_at = created_at - (key * 7919 % ?), "
            "last_seen_at = last_seen_at - (key * 104729 % ?)",
            (CREATED_SPREAD_S, SEEN_SPREAD_S),
        )
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # one file to cache and copy
        db.execute("ANALYZE")


def cache_paths(env: BenchEnv, size: int) -> tuple[Path, Path]:
    stem = f"audience-{size}-p{env.ports[0]}"
    return env.out_dir / f"{stem}.db", env.out_dir / f"{stem}.json"


def prepare(env: BenchEnv, size: int, log: Callable[[str], None]) -> tuple[BenchSite, bool]:
    """A fresh working copy of the filled store for `size`, filling the cache first if it is
    missing or stale. Returns the site and whether the cache was reused."""
    db, meta = cache_paths(env, size)
    reused = _cache_ok(meta, size)
    if not reused:
        meta.unlink(missing_ok=True)
        log(f"[{size:,}] filling the audience store (cached for later runs) ...")
        site = create_site(db)
        added = asyncio.run(_fill(env, site, size, log))
        if added != size:
            raise RuntimeError(f"audience store took {added} of {size} subscriptions")
        _spread_dates(db)
        meta.write_text(json.dumps(asdict(site) | {"size": size, "version": CACHE_VERSION}))
    cached = json.loads(meta.read_text())
    work = db.with_name(db.stem + "-run.db")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(db, work)
    return BenchSite(cached["id"], cached["api_key"], f"sqlite:///{work.resolve()}"), reused


def _cache_ok(meta: Path, size: int) -> bool:
    if not meta.is_file() or not meta.with_suffix(".db").is_file():
        return False
    try:
        doc = json.loads(meta.read_text())
    except ValueError:
        return False
    return bool(doc.get("size") == size and doc.get("version") == CACHE_VERSION)
