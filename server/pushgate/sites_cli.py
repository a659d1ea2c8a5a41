"""`pushgate sites update`: a site's delivery rules from a shell, checked as the API checks them."""

from __future__ import annotations

from typing import Any

import click

from pushgate.settings import Settings
from pushgate.site_rules import (
    InvalidRule,
    frequency_cap_from_text,
    quiet_hours_from_text,
    timezone_of,
)
from pushgate.store.models import Site, SiteRules


def rules_from_options(values: dict[str, Any]) -> SiteRules:
    """The change the options ask for; raises InvalidRule naming the option."""
    given: set[str] = set()
    for rule in ("quiet_hours", "frequency_cap"):
        if values[rule] is not None and values[f"no_{rule}"]:
            flag = rule.replace("_", "-")
            raise InvalidRule(f"--{flag}", f"and --no-{flag} contradict each other")
        if values[rule] is not None or values[f"no_{rule}"]:
            given.add(rule)
    if values["allow_high_urgency"] and values["quiet_hours"] is None:
        raise InvalidRule("--allow-high-urgency", "needs --quiet-hours START-END")
    if values["default_timezone"] is not None:
        given.add("default_timezone")
    if not given:
        raise InvalidRule(
            "options", "name no rule: give --default-timezone, --quiet-hours or --frequency-cap"
        )
    quiet, cap = values["quiet_hours"], values["frequency_cap"]
    return SiteRules(
        default_timezone=timezone_of(values["default_timezone"], "--default-timezone"),
        quiet_hours=None
        if quiet is None
        else quiet_hours_from_text(quiet, values["allow_high_urgency"]),
        frequency_cap=None if cap is None else frequency_cap_from_text(cap),
        given=frozenset(given),
    )


async def update_rules(settings: Settings, site_ref: str, rules: SiteRules) -> Site:
    """Apply `rules` to the site whose id or name is `site_ref`."""
    from pushgate.store import open_store

    async with open_store(settings) as store:
        site = await store.get_site(site_ref) or await store.find_site_by_name(site_ref)
        if site is None:
            raise click.UsageError(f"no site has the id or name {site_ref!r}")
        updated = await store.update_site_rules(site.id, rules)
    assert updated is not None  # the CLI deletes no sites
    return updated
