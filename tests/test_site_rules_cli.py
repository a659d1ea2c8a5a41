"""`pushgate sites update` (#9 item 5): a site's rules set from a shell, read back by the running
gateway's `GET /api/v1/site`; bad values are usage errors naming the option, and change nothing."""

from __future__ import annotations

import itertools
import json
import subprocess
from typing import Any

import httpx
import pytest

from tests.conftest import Gateway, Site, pushgate_command, site_of

SITE_NUMBERS = itertools.count()
RULES = ("default_timezone", "quiet_hours", "frequency_cap")


@pytest.fixture
def gateway(module_gateway: Gateway) -> Gateway:
    return module_gateway


@pytest.fixture
def site(gateway: Gateway) -> Site:
    return site_of(gateway, name=f"cli-rules-{next(SITE_NUMBERS)}")


def update(gateway: Gateway, *args: str) -> subprocess.CompletedProcess[str]:
    """`pushgate sites update …` on the gateway's database (PUSHGATE_DATABASE)."""
    return subprocess.run(
        pushgate_command("sites", "update", *args),
        env=gateway.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def served_rules(site: Site) -> dict[str, Any]:
    answer = httpx.get(
        f"{site.gateway.base_url}/api/v1/site", headers=site.admin_headers, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return {name: answer.json()[name] for name in RULES}


def test_update_by_name_sets_the_three_rules_the_gateway_serves(
    gateway: Gateway, site: Site
) -> None:
    name = httpx.get(
        f"{gateway.base_url}/api/v1/site", headers=site.admin_headers, timeout=10
    ).json()["name"]
    out = update(
        gateway,
        name,
        *("--quiet-hours", "22:00-08:00"),
        *("--frequency-cap", "2/24h"),
        *("--default-timezone", "Europe/Berlin"),
    )
    assert out.returncode == 0, out.stderr
    assert served_rules(site) == {
        "default_timezone": "Europe/Berlin",
        "quiet_hours": {"start": "22:00", "end": "08:00", "allow_high_urgency": False},
        "frequency_cap": {"max": 2, "period": "24h"},
    }
    assert "Europe/Berlin" in out.stdout and '"22:00"' in out.stdout


def test_update_by_id_json_prints_the_site_as_the_api_does(gateway: Gateway, site: Site) -> None:
    out = update(gateway, site.id, "--quiet-hours", "23:30-06:00", "--allow-high-urgency", "--json")
    assert out.returncode == 0, out.stderr
    printed = json.loads(out.stdout)
    served = httpx.get(f"{gateway.base_url}/api/v1/site", headers=site.admin_headers).json()
    assert printed == served
    assert printed["quiet_hours"] == {"start": "23:30", "end": "06:00", "allow_high_urgency": True}


def test_no_flags_clear_a_rule_and_leave_the_others(gateway: Gateway, site: Site) -> None:
    set_both = ("--quiet-hours", "22:00-07:00", "--frequency-cap", "3/7d")
    assert update(gateway, site.id, *set_both).returncode == 0
    out = update(gateway, site.id, "--no-quiet-hours")
    assert out.returncode == 0, out.stderr
    assert served_rules(site) == {
        "default_timezone": "UTC",
        "quiet_hours": None,
        "frequency_cap": {"max": 3, "period": "7d"},
    }
    assert update(gateway, site.id, "--no-frequency-cap").returncode == 0
    assert served_rules(site)["frequency_cap"] is None


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--quiet-hours", "22:00"), "--quiet-hours"),
        (("--quiet-hours", "22:00-22:00"), "--quiet-hours.end"),
        (("--quiet-hours", "25:00-08:00"), "--quiet-hours.start"),
        (("--frequency-cap", "2"), "--frequency-cap"),
        (("--frequency-cap", "0/24h"), "--frequency-cap.max"),
        (("--frequency-cap", "2/31d"), "--frequency-cap.period"),
        (("--frequency-cap", "two/24h"), "--frequency-cap"),
        (("--default-timezone", "Europe/Atlantis"), "--default-timezone"),
        (("--quiet-hours", "22:00-08:00", "--no-quiet-hours"), "--quiet-hours"),
        (("--frequency-cap", "2/24h", "--no-frequency-cap"), "--frequency-cap"),
        (("--allow-high-urgency",), "--allow-high-urgency"),
        ((), "nothing to change:"),
    ],
)
def test_bad_option_is_a_usage_error_naming_it_and_changes_nothing(
    gateway: Gateway, site: Site, args: tuple[str, ...], named: str
) -> None:
    good = ("--default-timezone", "Asia/Kolkata", "--frequency-cap", "5/1d")
    assert update(gateway, site.id, *good).returncode == 0
    before = served_rules(site)
    out = update(gateway, site.id, *args)
    assert out.returncode == 2, out.stdout + out.stderr
    assert f"Error: {named} " in out.stderr, out.stderr
    assert served_rules(site) == before


def test_unknown_site_is_a_usage_error(gateway: Gateway) -> None:
    out = update(gateway, "no-such-site", "--frequency-cap", "2/24h")
    assert out.returncode == 2 and "no-such-site" in out.stderr, out.stderr
