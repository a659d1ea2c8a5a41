"""`pushgate keys`: a site's API keys from a shell. Several per site, each named, so that a
leaked key is rotated without downtime: `keys create`, deploy the new key, `keys revoke` the old
one (refused with 401 from that moment). A site's last key is never revoked: the site's back
end would be locked out; create the new key first, or delete the site."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import click

from pushgate.cli_settings import build_settings, settings_options
from pushgate.site_profile import MAX_KEY_NAME_LENGTH, key_json, name_of
from pushgate.sites_cli import STORE_SETTINGS, checked, find_site, with_store
from pushgate.store import Store
from pushgate.store.base import LastApiKey
from pushgate.store.models import ApiKey

SITE_OPTION = click.option("--site", "site_ref", required=True, help="The site's id or name.")


@click.group()
def keys() -> None:
    """Create, list and revoke a site's API keys (rotate one without downtime)."""


@keys.command("create")
@SITE_OPTION
@click.option("--name", help="What the key is for, e.g. cms or ci (default: key-YYYY-MM-DD).")
@click.option("--json", "as_json", is_flag=True, help='Print {"id", "name", "api_key"}.')
@settings_options(*STORE_SETTINGS)
def create_key(site_ref: str, name: str | None, as_json: bool, **values: Any) -> None:
    """Make another API key for the site; the key is shown this once (only a hash is kept)."""
    now = time.time()
    default = f"key-{datetime.fromtimestamp(now, UTC):%Y-%m-%d}"
    key_name = checked(lambda: name_of(name or default, "--name", MAX_KEY_NAME_LENGTH))

    async def create(store: Store) -> tuple[ApiKey, str]:
        site = await find_site(store, site_ref)
        return await store.create_api_key(site.id, key_name, now)

    key, api_key = with_store(build_settings(values), create)
    if as_json:
        click.echo(json.dumps({"id": key.id, "name": key.name, "api_key": api_key}))
        return
    click.echo(
        f"api key: {api_key}   (shown once: keep it)\nid:      {key.id}\nname:    {key.name}"
    )


@keys.command("list")
@SITE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@settings_options(*STORE_SETTINGS)
def list_keys(site_ref: str, as_json: bool, **values: Any) -> None:
    """List the site's keys: id, name, when made and last used (within a minute); never a key."""

    async def listing(store: Store) -> list[ApiKey]:
        return await store.list_api_keys((await find_site(store, site_ref)).id)

    shown = [key_json(key) for key in with_store(build_settings(values), listing)]
    if as_json:
        click.echo(json.dumps(shown))
        return
    for key in shown:
        used = key["last_used_at"] or "never"
        click.echo(f"{key['id']}  {key['name']}  created {key['created_at']}  last used {used}")


@keys.command("revoke")
@SITE_OPTION
@click.argument("key_id")
@settings_options(*STORE_SETTINGS)
def revoke_key(site_ref: str, key_id: str, **values: Any) -> None:
    """Revoke KEY_ID (from `keys list`): every request with it is refused (401) at once."""

    async def revoke(store: Store) -> str:
        site = await find_site(store, site_ref)
        try:
            revoked = await store.revoke_api_key(site.id, key_id)
        except LastApiKey as exc:
            raise click.ClickException(
                f"{key_id} is the last API key of {site.name!r}: create another first "
                f"(pushgate keys create --site {site.id}), then revoke this one"
            ) from exc
        if not revoked:
            raise click.UsageError(
                f"{site.name!r} has no key {key_id!r} (pushgate keys list --site {site.id})"
            )
        return site.name

    name = with_store(build_settings(values), revoke)
    click.echo(f"revoked {key_id} of {name!r}: requests with it now answer 401")
