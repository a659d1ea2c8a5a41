"""`pushgate migrate` and `pushgate copy-db`: the database's schema, and moving an
installation from SQLite to PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click

from pushgate.cli_errors import explain
from pushgate.cli_settings import build_settings, settings_options
from pushgate.settings import Settings, SettingsError, _without_password
from pushgate.store.migrations import SCHEMA_VERSION

T = TypeVar("T")


@click.command("migrate")
@settings_options("database")
def migrate_command(**values: Any) -> None:
    """Apply the schema migrations to the database (SQLite or PostgreSQL) now, and print the
    version found and the version now. `serve` applies them at start unless --no-migrate.
    A schema newer than this pushgate is refused (exit code 1)."""
    settings = build_settings(values)
    shown = _without_password(settings.database)
    found = _run(_migrate(settings), shown, settings.database, database=settings.database)
    if found == SCHEMA_VERSION:
        click.echo(f"{shown} is at schema {SCHEMA_VERSION}: nothing to do")
    else:
        click.echo(f"migrated {shown} from schema {found} to {SCHEMA_VERSION}")


async def _migrate(settings: Settings) -> int:
    if settings.uses_postgres:
        import asyncpg

        from pushgate.store.postgres.connection import migrate, unavailable_on_error
        from pushgate.store.postgres.store import CONNECT_TIMEOUT_SECONDS

        with unavailable_on_error():
            conn = await asyncpg.connect(settings.database, timeout=CONNECT_TIMEOUT_SECONDS)
        try:
            return await migrate(conn)
        finally:
            await conn.close()
    import aiosqlite

    from pushgate.store.private_files import prepare_database_file
    from pushgate.store.sqlite.connection import PRAGMAS
    from pushgate.store.sqlite.connection import migrate as migrate_sqlite

    prepare_database_file(settings.sqlite_path)  # owner-only, as `serve` creates it
    async with aiosqlite.connect(settings.sqlite_path, isolation_level=None) as db:
        for pragma in PRAGMAS:
            await db.execute(pragma)
        return await migrate_sqlite(db)


@click.command("copy-db")
@click.option(
    "--from",
    "source",
    required=True,
    metavar="sqlite:///PATH",
    help="The SQLite database to copy: opened read-only, at the current schema version.",
)
@click.option(
    "--to",
    "target",
    required=True,
    metavar="postgresql://URL",
    help="An empty PostgreSQL database: migrated to the current schema, then filled.",
)
def copy_db_command(source: str, target: str) -> None:
    """Move an installation from SQLite to PostgreSQL: every table (sites with their VAPID
    keys as stored, so existing browser subscriptions keep working; API key hashes;
    subscriptions; notifications, deliveries and events; segments; the event-token secret)
    with every key unchanged, then the row counts of every table compared on both sides.

    Stop the gateways on the SQLite file first (what they write during the copy is not
    copied), and start the ones on PostgreSQL after it. The copy is one PostgreSQL
    transaction: when it fails, or a count differs (exit code 1), nothing is written. A
    target holding any site, subscription or notification is refused. A SQLite file at an
    older schema is refused: run `pushgate migrate` on it first.

    Only SQLite to PostgreSQL: copying from PostgreSQL (to SQLite, or to another PostgreSQL
    database) is refused; PostgreSQL's own pg_dump and pg_restore copy a PostgreSQL database.
    """
    from pushgate.copy_db import CountMismatch, copy_sqlite_to_postgres

    shown = _without_password(target)
    work = copy_sqlite_to_postgres(_sqlite_source(source, target), target)
    try:
        result = _run(work, "copy-db", target)
    except CountMismatch as exc:
        _print_counts(exc.counts)
        raise click.ClickException(str(exc)) from exc
    found = result.target_schema_found
    if found != SCHEMA_VERSION:
        click.echo(f"migrated {shown} from schema {found} to {SCHEMA_VERSION}")
    _print_counts(result.counts)
    for identity, last in result.sequences.items():
        click.echo(f"{identity}: new rows from {last + 1}")
    click.echo(f"copied {source} to {shown}: every table's row count is equal")


def _sqlite_source(source: str, target: str) -> Path:
    """The source's path, once both URLs are known good and point SQLite to PostgreSQL."""
    source_settings, target_settings = Settings(database=source), Settings(database=target)
    try:
        source_settings.validate_database()
        target_settings.validate_database()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc
    if source_settings.uses_postgres or not target_settings.uses_postgres:
        raise click.UsageError(
            "copy-db copies from SQLite to PostgreSQL only: --from sqlite:///PATH "
            "--to postgresql://USER:PASSWORD@HOST:PORT/DATABASE (copy a PostgreSQL database "
            "with pg_dump and pg_restore)"
        )
    return source_settings.sqlite_path


def _print_counts(counts: list[Any]) -> None:
    click.echo(f"{'table':<20}{'sqlite':>12}{'postgresql':>12}")
    for count in counts:
        verdict = "" if count.equal else "  MISMATCH"
        click.echo(f"{count.table:<20}{count.source:>12}{count.target:>12}{verdict}")


def _run(work: Coroutine[Any, Any, T], context: str, *urls: str, database: str | None = None) -> T:
    """Run `work`; a database that refuses, cannot be reached or is too new is one line on
    stderr and exit code 1, never a traceback, and never a password. With `database`, the
    line says what to do (pushgate.cli_errors)."""
    import sqlite3

    import asyncpg

    from pushgate.copy_db import CopyRefused
    from pushgate.store import SchemaBehind, SchemaTooNew, StoreUnavailable

    try:
        return asyncio.run(work)
    except (
        CopyRefused, SchemaTooNew, SchemaBehind, StoreUnavailable, sqlite3.Error, OSError,
        asyncpg.PostgresError, asyncpg.InterfaceError,
    ) as exc:  # fmt: skip
        message = " ".join(str(exc).split()) or type(exc).__name__
        line = None if database is None else explain(exc, database)
        if line is not None and context not in line:
            line = f"{context}: {line}"
        message = line or f"{context}: {message}"
        raise click.ClickException(_hide_passwords(message, urls)) from exc


def _hide_passwords(message: str, urls: tuple[str, ...]) -> str:
    for url in urls:
        password = urlsplit(url).password
        if password:
            message = message.replace(url, _without_password(url)).replace(password, "***")
    return message


COMMANDS: list[click.Command] = [migrate_command, copy_db_command]
