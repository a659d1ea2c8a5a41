"""`pushgate sites`: register, list, show, change and delete sites from a shell, checked as the
API checks them. `update` lives in site_update_cli.py, `pushgate keys` in keys_cli.py."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from pushgate.api.site_rules import site_with_variants
from pushgate.cli_settings import build_settings, run_with_store, settings_options
from pushgate.origins import InvalidOrigin, normalise_origin
from pushgate.settings import Settings, shown_database
from pushgate.site_profile import name_of, origins_of, site_json
from pushgate.site_rules import InvalidRule
from pushgate.store import Store
from pushgate.store.models import Site

T = TypeVar("T")
STORE_SETTINGS = ("database", "secret_key")  # what every command that reads sites needs


async def find_site(store: Store, site_ref: str) -> Site:
    """The site whose id or name is `site_ref`; a usage error naming it if there is none."""
    site = await store.get_site(site_ref) or await store.find_site_by_name(site_ref)
    if site is None:
        raise click.UsageError(
            f"no site has the id or name {site_ref!r} (pushgate sites list shows them)"
        )
    return site


def with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    """Run `work` on the settings' store, a database it cannot use a one-line error."""
    from pushgate.store import open_store

    async def run() -> T:
        async with open_store(settings) as store:
            return await work(store)

    return run_with_store(run())


def warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def checked(parse: Callable[[], T]) -> T:
    """A parse whose InvalidRule is a usage error (exit status 2) naming the option."""
    try:
        return parse()
    except InvalidRule as exc:
        raise click.UsageError(str(exc)) from exc


@click.group()
def sites() -> None:
    """Register, list, show, change and delete sites."""


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
@settings_options("database", "public_url", "secret_key")
def create_site(name: str, origins: tuple[str, ...], as_json: bool, **values: Any) -> None:
    """Register a site: prints its id, API key (shown once), VAPID public key and script tag
    (pointing at --public-url)."""
    settings = build_settings(values)
    name = checked(lambda: name_of(name, "--name"))
    clean, warnings = checked(lambda: origins_of(origins, "--origin"))
    for warning in warnings:
        warn(warning)

    async def create(store: Store) -> tuple[Site, str]:
        if await store.find_site_by_name(name):
            raise click.UsageError(f"a site named {name!r} exists already")
        return await store.create_site(name, clean)

    site, api_key = with_store(settings, create)
    if as_json:
        shown = {"id": site.id, "name": name, "api_key": api_key}
        click.echo(json.dumps(shown | {"vapid_public_key": site.vapid.public_key} | _origins(site)))
        return
    base = settings.base_url
    click.echo(
        f"site id:          {site.id}\napi key:          {api_key}   (shown once: keep it)\n"
        f"vapid public key: {site.vapid.public_key}\norigins:          {', '.join(clean)}\n\n"
        f'script tag:\n  <script src="{base}/static/pushgate.js" data-site="{site.id}" async>'
        f"</script>\nworker file /pushgate-sw.js on your site:\n"
        f'  importScripts("{base}/sw/pushgate-sw.js");'
    )
    if not settings.public_url:
        click.echo(
            f"\n({base} is the default address: give --public-url if the gateway has another)"
        )


def _origins(site: Site) -> dict[str, list[str]]:
    return {"origins": list(site.origins)}


@sites.command("list")
@click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON array of sites, as GET /api/v1/site."
)
@settings_options(*STORE_SETTINGS)
def list_sites(as_json: bool, **values: Any) -> None:
    """List every site: id, name, origins."""
    settings = build_settings(values)
    if as_json:
        click.echo(json.dumps(with_store(settings, _all_sites_json)))
        return
    found = with_store(settings, lambda store: store.list_sites())
    if not found:  # named, since a mistyped --database or PUSHGATE_DATABASE is a new database
        click.echo(
            f"no sites yet in {shown_database(settings.database)}: "
            "pushgate sites create --name NAME --origin https://…"
        )
        return
    for site in found:
        click.echo(f"{site.id}  {site.name}  {' '.join(site.origins)}")


@sites.command("show")
@click.argument("site")
@click.option("--json", "as_json", is_flag=True, help="Print the site as GET /api/v1/site does.")
@settings_options(*STORE_SETTINGS)
def show_site(site: str, as_json: bool, **values: Any) -> None:
    """Show one site, its prompt and rules, and how many API keys it has; SITE is its id or
    name. Origins a browser would never send (typed before they were normalised) are flagged."""

    async def read(store: Store) -> tuple[Site, int, dict[str, Any]]:
        found = await find_site(store, site)
        shown = await site_with_variants(store, found)
        return found, len(await store.list_api_keys(found.id)), shown

    found, key_count, shown = with_store(build_settings(values), read)
    if as_json:
        click.echo(json.dumps(shown))
        return
    echo_site(found)
    click.echo(f"{'api keys:':18}{key_count} (pushgate keys list --site {found.id})")
    for origin in found.origins:
        _flag_unnormalised(found, origin)


async def _all_sites_json(store: Store) -> list[dict[str, Any]]:
    """Every site as GET /api/v1/site shows it."""
    return [await site_with_variants(store, site) for site in await store.list_sites()]


def echo_site(site: Site) -> None:
    """A site in a few readable lines, for `show` and `update`."""
    shown = site_json(site)
    click.echo(f"site {site.id} ({site.name})")
    click.echo(f"{'origins:':18}{' '.join(site.origins)}")
    for name in ("prompt", "default_timezone", "quiet_hours", "frequency_cap", "created_at"):
        click.echo(f"{name + ':':18}{json.dumps(shown[name], ensure_ascii=False)}")


def _flag_unnormalised(site: Site, origin: str) -> None:
    try:
        fixed = normalise_origin(origin)
    except InvalidOrigin as exc:
        warn(f"{exc}: pushgate sites update {site.id} --remove-origin {origin!r}")
        return
    if fixed != origin:
        warn(
            f"{origin!r} is not what browsers send, so it matches no page: pushgate sites "
            f"update {site.id} --remove-origin {origin!r} --add-origin {fixed}"
        )


@sites.command("delete")
@click.argument("site")
@click.option("--yes", is_flag=True, help="Confirm: the site and all its data go for good.")
@settings_options(*STORE_SETTINGS)
def delete_site(site: str, yes: bool, **values: Any) -> None:
    """Delete a site and everything it holds: subscriptions, notifications and their deliveries
    and events, segments, webhooks, feeds, triggers, tracked events and API keys. SITE is its
    id or name."""
    if not yes:
        raise click.UsageError(
            f"deleting {site!r} removes its subscribers, notifications and API keys for good: "
            "run again with --yes"
        )

    async def delete(store: Store) -> Site:
        found = await find_site(store, site)
        if not await store.delete_site(found.id):
            raise click.UsageError(f"no site has the id or name {site!r}")
        return found

    deleted = with_store(build_settings(values), delete)
    click.echo(f"deleted site {deleted.id} ({deleted.name}) and all its data")


def _commands() -> tuple[click.Command, ...]:
    from pushgate.keys_cli import keys
    from pushgate.site_update_cli import update_site

    sites.add_command(update_site)
    return sites, keys


COMMANDS = _commands()
