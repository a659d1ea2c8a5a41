"""`pushgate sites update`: a site's name, origins, soft-prompt words and delivery rules from a
shell, checked as `PATCH /api/v1/site` checks them; options not given leave their field as it is."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from pushgate.api.site_rules import site_with_variants
from pushgate.cli_settings import build_settings, settings_options
from pushgate.origins import InvalidOrigin, normalise_origin
from pushgate.site_profile import (
    MAX_PROMPT_BUTTON_LENGTH,
    MAX_PROMPT_TEXT_LENGTH,
    PROMPT_FIELDS,
    name_of,
    origins_of,
    prompt_words_of,
    snooze_days_of,
)
from pushgate.site_rules import (
    InvalidRule,
    frequency_cap_from_text,
    quiet_hours_from_text,
    timezone_of,
)
from pushgate.sites_cli import STORE_SETTINGS, checked, echo_site, find_site, warn, with_store
from pushgate.store import Store
from pushgate.store.base import SiteNameTaken
from pushgate.store.models import Site, SiteChange, SiteRules

RULE_OPTIONS = (
    *("default_timezone", "quiet_hours", "no_quiet_hours"),
    *("frequency_cap", "no_frequency_cap", "allow_high_urgency"),
)
PROFILE_OPTIONS = (
    *("name", "add_origins", "remove_origins", "prompt_text"),
    *("prompt_accept", "prompt_dismiss", "snooze_days", "reset_prompt"),
)


def rules_from_options(values: dict[str, Any]) -> SiteRules:
    """The rule change the options ask for (none: nothing given); raises InvalidRule naming
    the option."""
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
    quiet, cap = values["quiet_hours"], values["frequency_cap"]
    return SiteRules(
        default_timezone=timezone_of(values["default_timezone"], "--default-timezone"),
        quiet_hours=None
        if quiet is None
        else quiet_hours_from_text(quiet, values["allow_high_urgency"]),
        frequency_cap=None if cap is None else frequency_cap_from_text(cap),
        given=frozenset(given),
    )


def prompt_from_options(values: dict[str, Any]) -> dict[str, Any]:
    """The prompt fields the options set: "" (or --reset-prompt) is the snippet's default."""
    fields: dict[str, Any] = dict.fromkeys(PROMPT_FIELDS) if values["reset_prompt"] else {}
    for field, limit in (
        ("prompt_text", MAX_PROMPT_TEXT_LENGTH),
        ("prompt_accept", MAX_PROMPT_BUTTON_LENGTH),
        ("prompt_dismiss", MAX_PROMPT_BUTTON_LENGTH),
    ):
        if values[field] is not None:
            flag = "--" + field.replace("_", "-")
            fields[field] = prompt_words_of(values[field] or None, flag, limit)
    if values["snooze_days"] is not None:
        fields["prompt_snooze_days"] = snooze_days_of(values["snooze_days"], "--snooze-days")
    return fields


def edited_origins(current: Sequence[str], add: Sequence[str], remove: Sequence[str]) -> list[str]:
    """The site's origins with `remove` taken out, then `add` (normalised already) put in. A
    stored origin typed before normalisation (a trailing space, ":443") matches its normal
    form, so `--remove-origin https://news.example` removes "https://news.example:443" too;
    those kept are stored in their normal form where they have one."""
    kept = list(current)
    for value in remove:
        try:
            wanted = {value, normalise_origin(value)}
        except InvalidOrigin:
            wanted = {value}
        matching = [origin for origin in kept if origin in wanted or _normal(origin) in wanted]
        if not matching:
            raise InvalidRule("--remove-origin", f"{value!r} is not one of {', '.join(kept)}")
        kept = [origin for origin in kept if origin not in matching]
    return list(dict.fromkeys([*(_normal(origin) or origin for origin in kept), *add]))


def _given(value: Any) -> bool:
    """Whether an option was given: 0 and "" are values ("" resets a prompt word)."""
    return value is not None and value is not False and value != ()


def _normal(origin: str) -> str | None:
    try:
        return normalise_origin(origin)
    except InvalidOrigin:
        return None


def site_change(site: Site, values: dict[str, Any]) -> tuple[SiteChange, list[str]]:
    fields: dict[str, Any] = {}
    warnings: list[str] = []
    if values["name"] is not None:
        fields["name"] = name_of(values["name"], "--name")
    if values["add_origins"] or values["remove_origins"]:
        added: tuple[str, ...] = ()
        if values["add_origins"]:
            added, warnings = origins_of(values["add_origins"], "--add-origin")
        edited = edited_origins(site.origins, added, values["remove_origins"])
        if not edited:
            raise InvalidRule("--remove-origin", "would leave no origin: add the new one first")
        fields["origins"] = tuple(edited)
    fields |= prompt_from_options(values)
    return SiteChange(**fields, given=frozenset(fields)), warnings


@click.command("update")
@click.argument("site")
@click.option("--name", help="A new name (unique).")
@click.option("--add-origin", "add_origins", multiple=True, help="Add an origin (repeatable).")
@click.option(
    "--remove-origin",
    "remove_origins",
    multiple=True,
    help="Remove an origin, as typed or as browsers send it (repeatable; before any --add-origin).",
)
@click.option("--prompt-text", help="The soft prompt's question; \"\" for the snippet's default.")
@click.option("--prompt-accept", help='Its accept button\'s label; "" for the default (Allow).')
@click.option("--prompt-dismiss", help='Its dismiss button\'s label; "" for the default (Not now).')
@click.option("--snooze-days", type=int, help="Days the prompt stays away after a dismiss (1-365).")
@click.option("--reset-prompt", is_flag=True, help="All four prompt fields back to the defaults.")
@click.option(
    "--default-timezone", help="IANA zone for subscribers without one, e.g. Europe/Berlin."
)
@click.option("--quiet-hours", help="START-END in each subscriber's local time, e.g. 22:00-08:00.")
@click.option(
    "--allow-high-urgency", is_flag=True, help="With --quiet-hours: urgency high goes through."
)
@click.option("--no-quiet-hours", is_flag=True, help="Clear the quiet hours.")
@click.option("--frequency-cap", help="MAX/PERIOD per subscriber, e.g. 2/24h (m, h or d).")
@click.option("--no-frequency-cap", is_flag=True, help="Clear the frequency cap.")
@click.option("--json", "as_json", is_flag=True, help="Print the site as GET /api/v1/site does.")
@settings_options(*STORE_SETTINGS)
def update_site(site: str, as_json: bool, **values: Any) -> None:
    """Change a site's name, origins, prompt words or delivery rules; SITE is its id or name.
    Whatever is not named stays as it is."""
    settings = build_settings(values)
    if not any(_given(values[name]) for name in RULE_OPTIONS + PROFILE_OPTIONS):
        raise click.UsageError("nothing to change: give an option (pushgate sites update --help)")
    rules = checked(lambda: rules_from_options(values))

    async def update(store: Store) -> tuple[Site, list[str], dict[str, Any]]:
        found = await find_site(store, site)
        change, warnings = checked(lambda: site_change(found, values))
        try:
            updated = await store.update_site(found.id, change)
        except SiteNameTaken as exc:
            raise click.UsageError(f"another site is named {change.name!r}") from exc
        if updated is not None and rules.given:
            updated = await store.update_site_rules(found.id, rules)
        if updated is None:
            raise click.UsageError(f"the site {site!r} was deleted meanwhile")
        return updated, warnings, await site_with_variants(store, updated)

    updated, warnings, shown = with_store(settings, update)
    for warning in warnings:
        warn(warning)
    if as_json:
        click.echo(json.dumps(shown))
        return
    echo_site(updated)
