"""The failures a user of the `pushgate` command can cause, each as one line saying what is
wrong and what to do. `pushgate --debug CMD` shows the traceback instead."""

from __future__ import annotations

import sqlite3
from urllib.parse import urlsplit

import httpx

from pushgate.settings import POSTGRES_SCHEMES, _without_password

DATABASE_HINT = "check --database or PUSHGATE_DATABASE"
GATEWAY_HINT = "check --gateway or PUSHGATE_GATEWAY"


class CommandFailed(Exception):
    """A failure whose message already says what to do (a port in use, a refused key ...)."""


def explain(exc: BaseException, database: str | None) -> str | None:
    """One line for a failure the user can mend; None for one that is pushgate's own bug.
    `database`: the command's database URL, named in database failures (its password hidden)."""
    if isinstance(exc, CommandFailed):
        return str(exc)
    if isinstance(exc, httpx.HTTPError):
        return _gateway_failure(exc)
    line = _database_failure(exc, database)
    if line is not None and database:
        return hide_password(line, database)
    return line


def _gateway_failure(exc: httpx.HTTPError) -> str:
    try:
        url = exc.request.url
        where = f"{url.scheme}://{url.netloc.decode()}"
    except RuntimeError:  # an error raised before any request was made
        where = "the gateway"
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"the gateway URL needs http:// or https:// in front: {GATEWAY_HINT}"
    if isinstance(exc, httpx.ConnectError):
        return (
            f"cannot connect to the gateway at {where} ({reason}): is `pushgate serve` running "
            f"there? {GATEWAY_HINT}"
        )
    if isinstance(exc, httpx.TimeoutException):
        return f"the gateway at {where} did not answer in time: is it overloaded? {GATEWAY_HINT}"
    return f"the connection to the gateway at {where} failed ({reason}): {GATEWAY_HINT}"


def _database_failure(exc: BaseException, database: str | None) -> str | None:
    from pushgate.store import SchemaBehind, SchemaTooNew, StoreUnavailable
    from pushgate.store.sealing import SealedKeyUnavailable

    shown = database or "the database"
    postgres = bool(database) and str(database).startswith(POSTGRES_SCHEMES)
    if isinstance(exc, SchemaTooNew | SchemaBehind | SealedKeyUnavailable):
        return str(exc)
    if isinstance(exc, StoreUnavailable) and postgres:
        return f"cannot use the database ({exc}): is PostgreSQL running there? {DATABASE_HINT}"
    if isinstance(exc, sqlite3.DatabaseError | StoreUnavailable):
        return _sqlite_failure(str(exc), shown)
    if _is_postgres_error(exc):
        return f"PostgreSQL refused {shown}: {exc}: {DATABASE_HINT}"
    if isinstance(exc, OSError) and exc.filename is not None and not postgres:
        return (
            f"cannot create or open the database at {shown}: {exc.strerror} ({exc.filename}): "
            "give --database or PUSHGATE_DATABASE a path in a folder you can write"
        )
    return None


def _sqlite_failure(reason: str, shown: str) -> str:
    if "file is not a database" in reason:
        return (
            f"{shown} is not a SQLite database (file is not a database): point --database or "
            "PUSHGATE_DATABASE at a pushgate database, or at a new file"
        )
    if "unable to open" in reason:
        return (
            f"cannot open the database file {shown} ({reason}): its folder must exist and be "
            f"writable ({DATABASE_HINT})"
        )
    if "locked" in reason:
        return f"the database {shown} is locked ({reason}): another process holds it; try again"
    return f"the database {shown} failed: {reason}: {DATABASE_HINT}"


def _is_postgres_error(exc: BaseException) -> bool:
    import asyncpg

    return isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError)


def hide_password(message: str, url: str) -> str:
    """`message` with the password of `url` replaced, wherever it appears."""
    password = urlsplit(url).password
    if not password:
        return message
    return message.replace(url, _without_password(url)).replace(password, "***")
