"""A message A/B test on two `pushgate serve` processes sharing one PostgreSQL database: both
run the notification and both reach the winner's moment, one records the winner, and the rest
gets it exactly once. Real processes on the test clock, decrypted payloads."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest

from pushgate.clock import TEST_CLOCK_ENV, FileClock
from pushgate.store import open_store
from pushgate.store.models import NewSubscription
from pushgate.testing import LocalPushService
from tests.conftest import Gateway, free_port, site_of, wait_until_done

pytestmark = pytest.mark.own_database  # always PostgreSQL

AUDIENCE = 200
START = 1_800_000_000.0
WINNER_AFTER_SECONDS = 60


async def test_two_gateways_choose_one_winner_and_send_the_rest_once(
    postgres_url: str, push_service: LocalPushService, tmp_path: Path
) -> None:
    clock_file = tmp_path / "clock"
    FileClock.write(clock_file, START)
    env = {TEST_CLOCK_ENV: str(clock_file), "PUSHGATE_LOG_LEVEL": "info"}
    pair = [
        Gateway(postgres_url, free_port(), push_service.host_port, dict(env), log_path=log)
        for log in (tmp_path / "one.log", tmp_path / "two.log")
    ]
    for gateway in pair:
        gateway.start()
    try:
        site = site_of(pair[0])
        browsers = [push_service.new_browser() for _ in range(AUDIENCE)]
        async with open_store(postgres_url) as store:
            subs = [NewSubscription(b.endpoint, b.p256dh, b.auth) for b in browsers]
            await store.add_subscriptions_bulk(site.id, subs)
        body = {
            "title": "Base",
            "variants": [{"title": "A"}, {"title": "B"}],
            "ab_test": {"sample_percent": 10, "winner_after": f"{WINNER_AFTER_SECONDS}s"},
        }
        async with httpx.AsyncClient(base_url=pair[1].base_url, timeout=30) as client:
            created = await client.post(
                "/api/v1/notifications", json=body, headers=site.admin_headers
            )
            assert created.status_code == 202, created.text
            await push_service.wait_for_total(AUDIENCE // 10)
            FileClock.write(clock_file, START + WINNER_AFTER_SECONDS)
            final = await wait_until_done(client, site, created.json()["id"])
    finally:
        for gateway in pair:
            gateway.stop()
    assert final["winner"] == 0  # nobody clicked: the first
    assert all(len(b.messages) == 1 for b in browsers)
    titles = Counter(m.json()["notification"]["title"] for b in browsers for m in b.messages)
    assert titles == {"A": AUDIENCE - 10, "B": 10}
    logs = [(tmp_path / name).read_text() for name in ("one.log", "two.log")]
    assert all(f"notification {created.json()['id']}: delivery starts" in log for log in logs)
    assert sum(log.count("A/B variant 0 wins") for log in logs) == 1
