"""Click options built from the settings, and the Settings they make: shared by every
command module (cli.py, db_cli.py), so none imports another."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click

from pushgate.settings import (
    SETTINGS_FIELDS,
    Settings,
    SettingsError,
    env_var,
    flag_name,
    parse_list,
    parse_push_hosts,
)

T = TypeVar("T")
DATABASE_META = "pushgate.database"  # the command's database URL, named in its failures


def settings_options(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add one click option per setting (flag + env var + documented default)."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for name in reversed(names):
            field = SETTINGS_FIELDS[name]
            kind = {"int": int, "float": float, "bool": bool}.get(str(field.type), str)
            command = click.option(
                flag_name(name),
                name,
                envvar=env_var(name),
                type=kind,
                is_flag=kind is bool,
                default=None,
                help=f"{field.metadata['help']} [env {env_var(name)}]",
            )(command)
        return command

    return decorate


def build_settings(values: dict[str, Any]) -> Settings:
    given = {k: v for k, v in values.items() if k in SETTINGS_FIELDS and v is not None}
    if "allowed_push_hosts" in given:
        given["allowed_push_hosts"] = parse_push_hosts(given["allowed_push_hosts"])
    if "allowed_feed_hosts" in given:
        given["allowed_feed_hosts"] = parse_push_hosts(given["allowed_feed_hosts"])
    if "allowed_hook_hosts" in given:
        given["allowed_hook_hosts"] = parse_push_hosts(given["allowed_hook_hosts"])
    if "trusted_proxies" in given:
        given["trusted_proxies"] = parse_list(given["trusted_proxies"])
    settings = Settings(**given)
    from pushgate.api.client_address import parse_trusted_proxies
    from pushgate.logs import validate_log_settings
    from pushgate.store.sealing import parse_secret_keys

    try:
        settings.validate_database()
        settings.validate_http2()
        parse_secret_keys(settings.secret_key)
        validate_log_settings(settings)
        parse_trusted_proxies(settings.trusted_proxies)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc
    if not settings.uses_postgres and settings.sqlite_path.is_dir():
        raise click.ClickException(
            f"{settings.database} is a folder: name a file in it, such as "
            f"sqlite:///{settings.sqlite_path / 'pushgate.db'} (--database or PUSHGATE_DATABASE)"
        )
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[DATABASE_META] = settings.database
    return settings


def run_with_store(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that opens the store; a database it cannot use (unreachable, not a
    database, a folder it cannot write, a schema too new ...) is a one-line error."""
    from pushgate.cli_errors import explain

    try:
        return asyncio.run(work)
    except Exception as exc:
        ctx = click.get_current_context(silent=True)
        line = explain(exc, ctx.meta.get(DATABASE_META) if ctx is not None else None)
        if line is None or isinstance(exc, click.ClickException):
            raise
        raise click.ClickException(line) from exc
