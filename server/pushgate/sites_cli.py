"""`pushgate sites`: register sites and set their rules from a shell, checked as the API
checks them."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import click

from pushgate.cli_settings import build_settings, run_with_store, settings_options
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


@click.group()
def sites() -> None:
    """Register sites and set their delivery rules."""


def _origin(value: str) -> str:
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
    ):
        raise click.BadParameter(f"{value!r} is not an origin like https://news.example.com")
    return f"{parts.scheme}://{parts.netloc.lower()}"


@sites.command("create")
@click.option("--name", required=True, help="A name for the site (unique).")
@click.option(
    "--origin",
    "origins",
    multiple=True,
    required=True,
    help="An origin the snippet runs on, e.g. https://news.example.com (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@settings_options("database", "public_url", "host", "port", "secret_key")
def create_site(name: str, origins: tuple[str, ...], as_json: bool, **values: Any) -> None:
    """Register a site: prints its id, API key (shown once), VAPID public key and script tag."""
    settings = build_settings(values)
    clean = tuple(dict.fromkeys(_origin(o) for o in origins))
    from pushgate.store import open_store

    async def create() -> tuple[Any, str]:
        async with open_store(settings) as store:
            if await store.find_site_by_name(name):
                raise click.UsageError(f"a site named {name!r} exists already")
            return await store.create_site(name, clean)

    site, api_key = run_with_store(create())
    if as_json:
        click.echo(
            json.dumps(
                {
                    "id": site.id,
                    "api_key": api_key,
                    "vapid_public_key": site.vapid.public_key,
                    "origins": list(clean),
                }
            )
        )
        return
    base = settings.base_url
    click.echo(
        f"site id:          {site.id}\napi key:          {api_key}   (shown once: keep it)\n"
        f"vapid public key: {site.vapid.public_key}\norigins:          {', '.join(clean)}\n\n"
        f'script tag:\n  <script src="{base}/static/pushgate.js" data-site="{site.id}" async>'
        f"</script>\nworker file /pushgate-sw.js on your site:\n"
        f'  importScripts("{base}/sw/pushgate-sw.js");'
    )


@sites.command("update")
@click.argument("site")
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
@settings_options("database", "secret_key")
def update_site(site: str, as_json: bool, **values: Any) -> None:
    """Set a site's delivery rules; SITE is its id or name. Rules not named stay as they are."""
    from pushgate.site_rules import rules_json

    settings = build_settings(values)
    try:
        rules = rules_from_options(values)
    except InvalidRule as exc:
        raise click.UsageError(str(exc)) from exc
    updated = run_with_store(update_rules(settings, site, rules))
    if as_json:
        click.echo(json.dumps(rules_json(updated)))
        return
    shown = rules_json(updated)
    click.echo(f"site {updated.id} ({updated.name})")
    for name in ("default_timezone", "quiet_hours", "frequency_cap"):
        click.echo(f"{name + ':':18}{json.dumps(shown[name])}")


COMMANDS = (sites,)
