"""`pushgate users`: the dashboard's operators (admins see every site, editors their own)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from pushgate.cli_settings import build_settings, run_with_store, settings_options
from pushgate.settings import Settings

T = TypeVar("T")
STORE_SETTINGS = ("database", "secret_key")


def _with_store(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(store)` on an open store; the rules' refusals become one-line usage errors."""
    from pushgate.dashboard.accounts import AccountError
    from pushgate.dashboard.passwords import WeakPassword
    from pushgate.store import open_store
    from pushgate.store.operator_rows import OperatorExists

    async def run() -> T:
        async with open_store(settings) as store:
            return await work(store)

    try:
        return run_with_store(run())
    except (AccountError, WeakPassword) as exc:
        raise click.UsageError(str(exc)) from exc
    except OperatorExists as exc:
        raise click.UsageError(f"an operator with the email {exc} exists already") from exc


def _read_password(from_stdin: bool) -> str:
    """One line of stdin, or asked twice on the terminal without echo; checked for length."""
    from pushgate.dashboard.passwords import WeakPassword, check_password

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        return check_password(password)
    except WeakPassword as exc:
        raise click.UsageError(str(exc)) from exc


@click.group()
def users() -> None:
    """Operators who log in to the dashboard at /dashboard/login."""


@users.command("create")
@click.option("--email", required=True, help="The operator's email: the login name.")
@click.option("--role", required=True, type=click.Choice(["admin", "editor"]))
@click.option(
    "--site", "sites", multiple=True, help="A site an editor manages, by id or name (repeatable)."
)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin's first line.")
@settings_options(*STORE_SETTINGS)
def create_user(
    email: str, role: str, sites: tuple[str, ...], password_stdin: bool, **values: Any
) -> None:
    """Add an operator; the password is asked twice (at least 12 characters)."""
    from pushgate.dashboard.accounts import create_operator, normalize_email

    settings = build_settings(values)
    _with_store(settings, lambda store: _no_operator(store, email))
    password = _read_password(password_stdin)
    operator = _with_store(
        settings,
        lambda store: create_operator(store, email, role, sites, password, time.time()),
    )
    where = "every site" if operator.is_admin else ", ".join(operator.site_ids)
    click.echo(f"created {operator.role} {normalize_email(email)} ({where})")


async def _no_operator(store: Any, email: str) -> None:
    """Refuse before asking for a password that would be thrown away."""
    from pushgate.dashboard.accounts import normalize_email

    if await store.operator_by_email(normalize_email(email)) is not None:
        raise click.UsageError(
            f"an operator with the email {normalize_email(email)} exists already"
        )


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@settings_options(*STORE_SETTINGS)
def list_users(as_json: bool, **values: Any) -> None:
    """List operators: email, role, sites, created."""
    operators = _with_store(build_settings(values), lambda store: store.list_operators())
    rows = [
        {
            "id": o.id,
            "email": o.email,
            "role": o.role,
            "sites": list(o.site_ids),
            "created_at": datetime.fromtimestamp(o.created_at, UTC).isoformat(timespec="seconds"),
        }
        for o in operators
    ]
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        sites = ",".join(row["sites"]) or "(every site)"
        click.echo(f"{row['email']:40} {row['role']:7} {sites:36} {row['created_at']}")


@users.command("delete")
@click.argument("email")
@settings_options(*STORE_SETTINGS)
def delete_user(email: str, **values: Any) -> None:
    """Delete an operator; its sessions end at once."""
    from pushgate.dashboard.accounts import normalize_email

    address = _address(email)
    deleted = _with_store(build_settings(values), lambda store: store.delete_operator(address))
    if not deleted:
        raise click.ClickException(f"no operator has the email {normalize_email(email)}")
    click.echo(f"deleted {address}")


@users.command("reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin's first line.")
@settings_options(*STORE_SETTINGS)
def reset_user_password(email: str, password_stdin: bool, **values: Any) -> None:
    """Set a new password; every session of the operator ends."""
    from pushgate.dashboard.accounts import reset_password

    settings = build_settings(values)
    address = _address(email)
    _with_store(settings, lambda store: _existing_operator(store, address))
    password = _read_password(password_stdin)
    _with_store(settings, lambda store: reset_password(store, address, password, time.time()))
    click.echo(f"new password set for {address}; its sessions have ended")


async def _existing_operator(store: Any, email: str) -> None:
    if await store.operator_by_email(email) is None:
        raise click.ClickException(f"no operator has the email {email}")


def _address(email: str) -> str:
    from pushgate.dashboard.accounts import AccountError, normalize_email

    try:
        return normalize_email(email)
    except AccountError as exc:
        raise click.UsageError(str(exc)) from exc


COMMANDS = (users,)
