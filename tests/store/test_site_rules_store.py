"""A site's delivery rules in the store: `update_site_rules` writes only the rules it names and
only for its site, every way of reading a site returns them, and a database made before they
existed upgrades with no rules and the UTC zone. Also the helpers the delivery engine reads."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pushgate.store import Store, open_store
from pushgate.store.migrations import MIGRATIONS
from pushgate.store.models import FrequencyCap, QuietHours, SiteRules
from pushgate.webpush.vapid import generate_key_pair

NIGHT = QuietHours("22:00", "08:00")
TWO_A_DAY = FrequencyCap(2, "24h")


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    async with open_store(database_url) as store:
        yield store


async def test_update_writes_only_the_named_rules_of_its_site(store: Store) -> None:
    site, api_key = await store.create_site("a", ["https://a.example"])
    other, _ = await store.create_site("b", ["https://b.example"])
    everything = SiteRules("Europe/Berlin", NIGHT, TWO_A_DAY, frozenset(("quiet_hours",)))
    updated = await store.update_site_rules(site.id, everything)
    assert updated is not None
    assert (updated.default_timezone, updated.quiet_hours, updated.frequency_cap) == (
        "UTC",
        NIGHT,
        None,
    )
    cap_only = SiteRules(frequency_cap=TWO_A_DAY, given=frozenset(("frequency_cap",)))
    await store.update_site_rules(site.id, cap_only)
    for read in (
        await store.get_site(site.id),
        await store.find_site_by_name("a"),
        await store.site_for_api_key(api_key),
    ):
        assert read is not None
        assert (read.default_timezone, read.quiet_hours, read.frequency_cap) == (
            "UTC",
            NIGHT,
            TWO_A_DAY,
        )
    untouched = await store.get_site(other.id)
    assert untouched is not None and (untouched.quiet_hours, untouched.frequency_cap) == (
        None,
        None,
    )


async def test_given_none_clears_and_allow_high_urgency_round_trips(store: Store) -> None:
    site, _ = await store.create_site("a", ["https://a.example"])
    urgent = QuietHours("23:30", "06:00", allow_high_urgency=True)
    all_three = frozenset(("default_timezone", "quiet_hours", "frequency_cap"))
    set_all = await store.update_site_rules(
        site.id, SiteRules("Asia/Kathmandu", urgent, TWO_A_DAY, all_three)
    )
    assert set_all is not None and set_all.quiet_hours == urgent
    cleared = await store.update_site_rules(site.id, SiteRules(given=all_three))
    assert cleared is not None
    assert (cleared.default_timezone, cleared.quiet_hours, cleared.frequency_cap) == (
        "UTC",
        None,
        None,
    )


async def test_update_of_an_unknown_site_is_none(store: Store) -> None:
    rules = SiteRules(quiet_hours=NIGHT, given=frozenset(("quiet_hours",)))
    assert await store.update_site_rules("no-such-site", rules) is None


async def test_a_database_from_before_the_rules_upgrades_with_none(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    keys = generate_key_pair()
    with sqlite3.connect(path) as db:
        for script in MIGRATIONS[:2]:  # the schema as released before site rules
            db.executescript(script)
        db.execute(
            "INSERT INTO sites VALUES ('s1', 'old', '[\"https://old.example\"]', ?, ?, 'Hi?', 1.0)",
            (keys.private_key, keys.public_key),
        )
        db.execute("PRAGMA user_version = 2")
    db.close()
    async with open_store(f"sqlite:///{path}") as store:
        site = await store.get_site("s1")
    assert site is not None and site.vapid == keys
    assert (site.default_timezone, site.quiet_hours, site.frequency_cap) == ("UTC", None, None)


@pytest.mark.parametrize(
    ("quiet", "minute", "inside"),
    [
        (NIGHT, 22 * 60, True),
        (NIGHT, 23 * 60 + 59, True),
        (NIGHT, 0, True),
        (NIGHT, 7 * 60 + 59, True),
        (NIGHT, 8 * 60, False),  # the end is not quiet
        (NIGHT, 12 * 60, False),
        (NIGHT, 21 * 60 + 59, False),
        (QuietHours("09:00", "17:00"), 9 * 60, True),
        (QuietHours("09:00", "17:00"), 17 * 60, False),
        (QuietHours("09:00", "17:00"), 3 * 60, False),
    ],
)
def test_quiet_hours_contains_wraps_midnight(quiet: QuietHours, minute: int, inside: bool) -> None:
    assert quiet.contains(minute) is inside


@pytest.mark.parametrize(
    ("period", "seconds"), [("1m", 60), ("90m", 5400), ("24h", 86400), ("30d", 2_592_000)]
)
def test_frequency_cap_period_seconds(period: str, seconds: int) -> None:
    assert FrequencyCap(1, period).period_seconds == seconds
