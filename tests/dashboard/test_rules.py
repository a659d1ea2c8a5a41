"""The dashboard's pure rules: when failed logins lock, and which `next` targets are local."""

from __future__ import annotations

import pytest

from pushgate.dashboard.lockout import LOCKOUT_SECONDS, locked_until
from pushgate.dashboard.navigation import HOME, safe_next

MINUTE = 60.0


def test_five_failures_within_15_minutes_lock_for_15_minutes_from_the_fifth() -> None:
    spread = [0.0, 3 * MINUTE, 6 * MINUTE, 9 * MINUTE, 14 * MINUTE]
    assert locked_until(spread) == 14 * MINUTE + LOCKOUT_SECONDS
    assert locked_until(spread[:4]) == 0.0


def test_five_failures_spread_over_more_than_15_minutes_do_not_lock() -> None:
    assert locked_until([0.0, 4 * MINUTE, 8 * MINUTE, 12 * MINUTE, 16 * MINUTE]) == 0.0


def test_the_latest_qualifying_failure_sets_the_end_of_the_lock() -> None:
    burst = [0.0, 1.0, 2.0, 3.0, 4.0]
    # A failure long after the burst is alone in its window: the lock stays the burst's.
    assert locked_until([*burst, 30 * MINUTE]) == 4.0 + LOCKOUT_SECONDS
    # One ten minutes later makes five within 15 minutes again, and the lock ends later.
    assert locked_until([*burst, 10 * MINUTE]) == 10 * MINUTE + LOCKOUT_SECONDS


@pytest.mark.parametrize(
    "target",
    ["/dashboard", "/dashboard/", "/dashboard/sites/abc", "/dashboard/sites/abc?tab=embed&x=1"],
)
def test_local_dashboard_paths_are_kept(target: str) -> None:
    assert safe_next(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "/",
        "/dashboardx",
        "/api/v1/site",
        "//evil.example",
        "///evil.example",
        "https://evil.example/dashboard/",
        "/dashboard//evil.example",
        "/dashboard/\\evil",
        "/dashboard/../api",
        "/dashboard/%2E%2E/api",
        "/dashboard/\t/x",
        "/dashboard/#frag",
        "/dashboard/login?next=/dashboard/",
        "/dashboard/" + "a" * 2000,
    ],
)
def test_anything_else_goes_home(target: str | None) -> None:
    assert safe_next(target) == HOME
