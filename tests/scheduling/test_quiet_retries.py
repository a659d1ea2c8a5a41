"""Quiet hours read again for a retry, end to end with the test clock: a real `pushgate serve`,
the local push service answering 429 with Retry-After, and simulated browsers that decrypt what
they get. A retry that comes due inside the subscribers' quiet hours waits until they end;
`urgency: "high"` (when the site allows it) and `ignore_quiet_hours` still go through."""

from __future__ import annotations

import asyncio
from collections import Counter

from pushgate.testing import Fault
from tests.conftest import wait_until_done
from tests.scheduling.test_rules_delivery import Setup, setup, utc, wait_for

__all__ = ["setup"]  # the fixture, shared with the rules tests

QUIET = {"start": "22:00", "end": "08:00", "allow_high_urgency": True}


async def test_retries_in_quiet_hours_wait_unless_high_urgency_or_ignoring_them(
    setup: Setup,
) -> None:
    patched = await setup.client.patch(
        "/api/v1/site", json={"quiet_hours": QUIET}, headers=setup.site.admin_headers
    )
    assert patched.status_code == 200, patched.text
    setup.at(utc(2026, 6, 1, 21, 59))  # a minute before the quiet hours (UTC, the default)
    setup.push.inject(Fault(status=429, times=12, retry_after="120"))  # each refused once
    quiet = await setup.send(title="quiet")
    high = await setup.send(title="high", urgency="high")
    ignoring = await setup.send(title="ignoring", ignore_quiet_hours=True)
    await wait_for(lambda: len(setup.push.requests) == 12)  # retries due at ~22:01

    # Inside the quiet hours only the two that may pass them go.
    await _received_as_time_passes(setup, 8, utc(2026, 6, 1, 22, 5))
    assert Counter(m.json()["notification"]["title"] for m in setup.push.received) == {
        "high": 4,
        "ignoring": 4,
    }
    for passing in (high, ignoring):
        counts = (await wait_until_done(setup.client, setup.site, passing))["counts"]
        assert (counts["accepted"], counts["pending"]) == (4, 0)
    assert (await setup.status(quiet))["counts"]["pending"] == 4

    setup.at(utc(2026, 6, 2, 7, 59))
    await setup.received(8)
    # The quiet hours end in the subscribers' zone (UTC, the site's default).
    await _received_as_time_passes(setup, 12, utc(2026, 6, 2, 8, 0))
    counts = (await wait_until_done(setup.client, setup.site, quiet))["counts"]
    assert (counts["accepted"], counts["failed"], counts["pending"]) == (4, 0, 0)
    for message in setup.push.received:
        assert message.decrypt_error is None
    for browser in setup.browsers:
        titles = sorted(m.json()["notification"]["title"] for m in browser.messages)
        assert titles == ["high", "ignoring", "quiet"]


async def _received_as_time_passes(setup: Setup, expected: int, start: float) -> None:
    """Exactly `expected` in all, the clock moving a minute a second from `start`: a message
    the dispatcher deferred (a push service not yet known to answer gets 8 in flight) is due
    again a few seconds later by the test clock, which does not move by itself."""
    loop = asyncio.get_running_loop()
    deadline, at = loop.time() + 60, start
    while len(setup.push.received) < expected:
        assert loop.time() < deadline, f"{len(setup.push.received)} of {expected} arrived"
        setup.at(at)
        await asyncio.sleep(1.0)
        at += 60
    await setup.received(expected)
