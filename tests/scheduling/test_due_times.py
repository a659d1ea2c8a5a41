"""Due-time computation, as pure functions: local time across zones and DST changes, quiet
hours wrapping midnight, TTL from the local time, and the per-second throttle."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from pushgate.scheduling.local_time import minute_of_day, next_occurrence, zone
from pushgate.scheduling.plan import DuePlanner, quiet_until
from pushgate.scheduling.throttle import Throttle
from pushgate.store.models import Audience, Notification, QuietHours, Site
from pushgate.webpush.vapid import generate_key_pair

HOUR = 3600.0


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


def at(name: str, clock: str, after: float) -> float:
    return next_occurrence(minute_of_day(clock), zone(name), after)


# (zone, wall time, searched from, expected instant in UTC): each zone on its DST-change days.
CASES = [
    # -03:30 / -02:30; spring forward 2026-03-08 02:00 -> 03:00, fall back 11-01 02:00 -> 01:00
    ("America/St_Johns", "07:00", utc(2026, 3, 8, 0), utc(2026, 3, 8, 9, 30)),
    ("America/St_Johns", "02:30", utc(2026, 3, 8, 0), utc(2026, 3, 8, 5, 30)),  # gap: 03:00
    ("America/St_Johns", "01:30", utc(2026, 11, 1, 0), utc(2026, 11, 1, 4, 0)),  # first
    ("America/St_Johns", "07:00", utc(2026, 11, 1, 0), utc(2026, 11, 1, 10, 30)),
    ("Asia/Kolkata", "07:00", utc(2026, 3, 8, 0), utc(2026, 3, 8, 1, 30)),  # +05:30
    ("Asia/Kolkata", "07:00", utc(2026, 3, 8, 2), utc(2026, 3, 9, 1, 30)),  # passed: tomorrow
    ("Asia/Kathmandu", "07:00", utc(2026, 3, 8, 0), utc(2026, 3, 8, 1, 15)),  # +05:45
    # +10:30 / +11:00: spring forward 2026-10-04 02:00 -> 02:30, fall back 04-05 02:00 -> 01:30
    ("Australia/Lord_Howe", "02:15", utc(2026, 10, 3, 0), utc(2026, 10, 3, 15, 30)),  # gap
    ("Australia/Lord_Howe", "07:00", utc(2026, 10, 3, 12), utc(2026, 10, 3, 20, 0)),
    ("Australia/Lord_Howe", "01:45", utc(2026, 4, 4, 12), utc(2026, 4, 4, 14, 45)),  # first
    ("Australia/Lord_Howe", "07:00", utc(2026, 4, 4, 12), utc(2026, 4, 4, 20, 30)),
    # +01:00 / +02:00: 2026-03-29 02:00 -> 03:00, 10-25 03:00 -> 02:00
    ("Europe/Berlin", "02:30", utc(2026, 3, 28, 12), utc(2026, 3, 29, 1, 0)),  # gap: 03:00
    ("Europe/Berlin", "07:00", utc(2026, 3, 28, 12), utc(2026, 3, 29, 5, 0)),
    ("Europe/Berlin", "02:30", utc(2026, 10, 24, 12), utc(2026, 10, 25, 0, 30)),  # first
    ("Europe/Berlin", "07:00", utc(2026, 10, 24, 12), utc(2026, 10, 25, 6, 0)),
    # -05:00 / -04:00: 2026-03-08 02:00 -> 03:00, 11-01 02:00 -> 01:00
    ("America/New_York", "02:30", utc(2026, 3, 8, 0), utc(2026, 3, 8, 7, 0)),  # gap: 03:00
    ("America/New_York", "07:00", utc(2026, 3, 8, 0), utc(2026, 3, 8, 11, 0)),
    ("America/New_York", "01:30", utc(2026, 11, 1, 0), utc(2026, 11, 1, 5, 30)),  # first
    ("America/New_York", "07:00", utc(2026, 11, 1, 0), utc(2026, 11, 1, 12, 0)),
]


@pytest.mark.parametrize(("name", "clock", "after", "expected"), CASES)
def test_next_occurrence_of_local_time_on_dst_days(
    name: str, clock: str, after: float, expected: float
) -> None:
    assert at(name, clock, after) == expected


def test_next_occurrence_at_the_very_moment_is_that_moment() -> None:
    now = utc(2026, 3, 8, 11, 0)
    assert at("America/New_York", "07:00", now) == now


def test_second_occurrence_of_ambiguous_time_is_never_chosen() -> None:
    # Searching from just after the first 01:30 EDT: the next "01:30" is the next day's.
    first = utc(2026, 11, 1, 5, 30)
    assert at("America/New_York", "01:30", first + 1) == utc(2026, 11, 2, 6, 30)


QUIET = QuietHours("22:00", "08:00")
BERLIN = zone("Europe/Berlin")


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        (utc(2026, 6, 1, 21, 30), utc(2026, 6, 2, 6, 0)),  # 23:30 local -> 08:00 next day
        (utc(2026, 6, 1, 22, 30), utc(2026, 6, 2, 6, 0)),  # 00:30 local, after midnight
        (utc(2026, 6, 2, 5, 59), utc(2026, 6, 2, 6, 0)),  # 07:59 -> 08:00
        (utc(2026, 6, 2, 6, 0), utc(2026, 6, 2, 6, 0)),  # 08:00: the end is not quiet
        (utc(2026, 6, 1, 19, 59), utc(2026, 6, 1, 19, 59)),  # 21:59: not yet quiet
        (utc(2026, 6, 1, 20, 0), utc(2026, 6, 2, 6, 0)),  # 22:00: quiet
    ],
)
def test_quiet_hours_wrapping_midnight_wait_until_they_end(due: float, expected: float) -> None:
    assert quiet_until(QUIET, BERLIN, due) == expected


def test_quiet_hours_ending_in_a_dst_gap_end_after_the_gap() -> None:
    quiet = QuietHours("22:00", "02:30")
    due = utc(2026, 3, 28, 23, 0)  # 00:00 CET on the 29th
    assert quiet_until(quiet, BERLIN, due) == utc(2026, 3, 29, 1, 0)  # 03:00 CEST


def _site(**rules: object) -> Site:
    return replace(Site("s", "news", (), generate_key_pair(), 0.0), **rules)  # type: ignore[arg-type]


def _notification(**fields: object) -> Notification:
    base = Notification(
        "n",
        1,
        "s",
        {},
        Audience(everyone=True),
        3600,
        None,
        None,
        None,
        "",
        "scheduled",
        utc(2026, 3, 8, 0),
        False,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def test_planner_without_zone_uses_the_site_default_and_counts_ttl_from_local_time() -> None:
    planner = DuePlanner(
        _notification(deliver_at_local="07:00"),
        _site(default_timezone="America/New_York"),
        utc(2026, 3, 8, 0),
    )
    due = planner.due(None)
    assert (due.at, due.expires_at) == (utc(2026, 3, 8, 11), utc(2026, 3, 8, 11) + 3600)
    assert planner.due("Asia/Kolkata").at == utc(2026, 3, 8, 1, 30)


def test_planner_starts_at_send_at() -> None:
    send_at = utc(2026, 3, 8, 2)
    planner = DuePlanner(
        _notification(deliver_at_local="07:00", send_at=send_at), _site(), utc(2026, 3, 8, 0)
    )
    assert planner.due("Asia/Kolkata").at == utc(2026, 3, 9, 1, 30)  # 07:00 passed at send_at
    plain = DuePlanner(_notification(send_at=send_at), _site(), utc(2026, 3, 8, 0))
    assert (plain.due(None).at, plain.due(None).expires_at) == (send_at, send_at + 3600)


def test_planner_quiet_hours_delay_but_never_extend_the_lifetime() -> None:
    site = _site(quiet_hours=QuietHours("22:00", "08:00"), default_timezone="Europe/Berlin")
    planner = DuePlanner(_notification(deliver_at_local="23:00"), site, utc(2026, 6, 1, 0))
    due = planner.due(None)
    assert due.at == utc(2026, 6, 2, 6, 0)  # 08:00 local
    assert due.expires_at == utc(2026, 6, 1, 21, 0) + 3600  # 23:00 local + TTL: expired by then


@pytest.mark.parametrize(
    ("urgency", "allow", "ignore", "delayed"),
    [
        ("high", True, False, False),
        ("high", False, False, True),
        ("normal", True, False, True),
        (None, False, True, False),
    ],
)
def test_planner_quiet_hours_pass_for_high_urgency_only_when_allowed(
    urgency: str | None, allow: bool, ignore: bool, delayed: bool
) -> None:
    site = _site(quiet_hours=QuietHours("22:00", "08:00", allow))
    now = utc(2026, 6, 1, 23)  # 23:00 UTC, the site's default zone
    notification = _notification(urgency=urgency, ignore_quiet_hours=ignore, created_at=now)
    assert (DuePlanner(notification, site, now).due(None).at > now) is delayed


def test_throttle_hands_at_most_n_over_60_in_any_one_second() -> None:
    throttle = Throttle(150)  # 2 a second
    handed: list[float] = []
    now = 1000.0
    while len(handed) < 20:
        room = throttle.room(now)
        if room > 0:
            throttle.take(now, 1)
            handed.append(now)
        now += 0.1
    for start in handed:
        assert sum(start <= t < start + 1 for t in handed) <= 2
    assert handed[-1] - handed[0] < 10.5  # and not slower than that


def test_throttle_waits_until_the_oldest_leaves_the_window() -> None:
    throttle = Throttle(60)
    throttle.take(10.0, 1)
    assert throttle.room(10.5) == 0 and throttle.wait_seconds(10.5) == pytest.approx(0.5)
    assert throttle.room(11.0) == 1
