"""QuietSpans, which the claims ask at each batch of 500 due rows, answers exactly as
quiet_until does at every moment: checked minute by minute (and a second before each minute)
around each zone's DST changes, with quiet hours that wrap midnight, contain a change, or
start or end inside a spring-forward gap or a fall-back fold."""

from __future__ import annotations

import random
import zoneinfo
from datetime import UTC, datetime

import pytest

from pushgate.scheduling.local_time import zone
from pushgate.scheduling.quiet import QuietSpans, quiet_until
from pushgate.store.models import QuietHours

STEP_SECONDS = 300  # every 5 minutes: each zone's minute boundaries (+05:45, -02:30) included
# Each zone with the UTC days of its 2026 DST changes (UTC and Kathmandu have none).
CHANGES = {
    "Europe/Berlin": ((3, 29), (10, 25)),
    "America/New_York": ((3, 8), (11, 1)),
    "America/St_Johns": ((3, 8), (11, 1)),
    "Australia/Lord_Howe": ((4, 4), (10, 3)),  # half-hour changes at 02:00 local
    "Asia/Kathmandu": ((6, 1),),
    "UTC": ((6, 1),),
}
QUIET = [
    QuietHours("22:00", "08:00"),
    QuietHours("01:30", "02:30"),  # starts or ends in gaps and folds
    QuietHours("02:00", "03:00"),
    QuietHours("00:30", "01:45"),
]


def _moments(month: int, day: int) -> list[float]:
    """From the day before to the day after, every STEP and a second before each."""
    start = datetime(2026, month, day, tzinfo=UTC).timestamp() - 86400
    moments: list[float] = []
    for step in range(3 * 86400 // STEP_SECONDS):
        at = start + step * STEP_SECONDS
        moments += [at - 1, at]
    return moments


@pytest.mark.parametrize("name", sorted(CHANGES))
@pytest.mark.parametrize("quiet", QUIET, ids=lambda q: f"{q.start}-{q.end}")
def test_spans_answer_as_quiet_until_through_dst_changes(name: str, quiet: QuietHours) -> None:
    tz = zone(name)
    spans = QuietSpans(quiet)
    for month, day in CHANGES[name]:
        for at in _moments(month, day):
            assert spans.until(name, tz, at) == quiet_until(quiet, tz, at), (name, at)


def test_spans_answer_the_same_when_the_clock_goes_back() -> None:
    quiet, tz = QuietHours("22:00", "08:00"), zone("Europe/Berlin")
    spans = QuietSpans(quiet)
    moments = _moments(10, 25)
    for at in [*moments[::7], *reversed(moments[::5])]:
        assert spans.until("Europe/Berlin", tz, at) == quiet_until(quiet, tz, at)


def test_spans_answer_as_quiet_until_for_random_zones_hours_and_moments() -> None:
    chance = random.Random(9)
    names = sorted(zoneinfo.available_timezones())
    for _ in range(40):
        name = chance.choice(names)
        start, end = chance.sample(range(0, 24 * 60, 15), 2)
        quiet = QuietHours(f"{start // 60:02}:{start % 60:02}", f"{end // 60:02}:{end % 60:02}")
        tz, spans = zone(name), QuietSpans(quiet)
        month, day = chance.choice((3, 4, 10, 11)), chance.randint(1, 20)  # DST months
        at = datetime(2026, month, day, tzinfo=UTC).timestamp()
        for _ in range(600):
            at += chance.randint(1, 5400)
            assert spans.until(name, tz, at) == quiet_until(quiet, tz, at), (name, quiet, at)
