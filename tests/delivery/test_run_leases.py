"""RunLeases against a real store: renewed while the database answers, given up before the
leases end when it does not, and a claim that came back too late is not sent."""

from __future__ import annotations

import asyncio
import time

from pushgate.delivery.leases import RunLeases
from pushgate.settings import Settings
from pushgate.store import open_store
from tests.gateway.test_lease_lapse import database_locked

SECONDS = 3.0  # renewed every second; given up 0.5 s before the end


async def _watch(database_url: str, locked: bool, watch_seconds: float) -> list[float]:
    """Hold one delivery key under RunLeases for `watch_seconds`; the times of lapses."""
    lapses: list[float] = []
    async with open_store(Settings(database=database_url)) as store:
        leases = RunLeases(
            store, 1, SECONDS, time.time, lambda: {1}, on_lapse=lambda: lapses.append(time.time())
        )
        start = time.time()
        assert leases.claimed(start + SECONDS, held_before=False)
        keeping = asyncio.create_task(leases.keep())
        try:
            if locked:
                async with database_locked(database_url):
                    await asyncio.sleep(watch_seconds)
            else:
                await asyncio.sleep(watch_seconds)
        finally:
            keeping.cancel()
    return [t - start for t in lapses]


async def test_leases_renewed_in_time_never_lapse(database_url: str) -> None:
    assert await _watch(database_url, locked=False, watch_seconds=SECONDS * 2) == []


async def test_leases_the_database_will_not_renew_are_given_up_before_they_end(
    database_url: str,
) -> None:
    lapses = await _watch(database_url, locked=True, watch_seconds=SECONDS + 0.5)
    assert len(lapses) == 1, lapses
    assert lapses[0] < SECONDS, f"given up {lapses[0]:.2f} s after the claim: too late"


def test_a_claim_that_returns_with_its_lease_nearly_over_is_not_sent() -> None:
    now = [1000.0]
    leases = RunLeases(None, 1, SECONDS, lambda: now[0], set, on_lapse=lambda: None)  # type: ignore[arg-type]
    assert leases.claimed(1000.0 + SECONDS, held_before=False)
    now[0] = 1000.0 + SECONDS * 5 / 6  # the claim took that long
    assert not leases.claimed(1000.0 + SECONDS, held_before=True)
