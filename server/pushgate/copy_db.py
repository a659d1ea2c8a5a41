"""Copy a SQLite installation into an empty PostgreSQL database (`pushgate copy-db`).

Every table and every key as it is (delivery tokens name subscription and notification keys;
the event-token secret is in `meta`; VAPID keys stay as stored, sealed or not), in one
PostgreSQL transaction, streamed from SQLite in chunks, and verified by counting the rows of
every table on both sides before the commit: a difference rolls everything back.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from pushgate.store.migrations import SCHEMA_VERSION
from pushgate.store.postgres.connection import migrate, schema_version, unavailable_on_error
from pushgate.store.postgres.store import CONNECT_TIMEOUT_SECONDS

CHUNK_ROWS = 10_000  # rows read from SQLite at a time: a million subscriptions never all in memory
# Parents before children (foreign keys). A table not named here, on either side, stops the
# copy: a later migration that adds a table must say here how it is copied.
TABLES = (
    "meta",
    "sites",
    "api_keys",
    "subscriptions",
    "subscription_tags",
    "subscriber_rollups",
    "subscriber_breakdowns",
    "delivery_rollups",
    "notifications",
    "deliveries",
    "events",
    "segments",
    "webhooks",
    "tracked_events",
    "feeds",
    "feed_entries",
    "triggers",
    "trigger_runs",
    "operators",
    "operator_sites",
    "dashboard_sessions",
    "login_failures",
    "prompt_variants",
    "prompt_event_counts",
    "event_hooks",
    "event_hook_outbox",
    "event_hook_attempts",
)
# A row in any of these makes a target "not empty". Not meta: a new database a gateway has
# opened once holds a write probe and perhaps an event secret that no token names yet (tokens
# name notifications); the source's rows replace them.
DATA_TABLES = tuple(table for table in TABLES if table != "meta")
# SQLite keeps a tag's value untyped; PostgreSQL splits it by kind (booleans are 1 or 0).
SQLITE_EXPRESSIONS = {
    ("subscription_tags", "str_value"): "CASE WHEN kind = 'string' THEN value END",
    ("subscription_tags", "num_value"): "CASE WHEN kind = 'string' THEN NULL ELSE value END",
}
REPLACED_SQLITE_COLUMNS = {"subscription_tags": {"value"}}


class CopyRefused(Exception):
    """The copy cannot be made; the message says why in one line. Nothing was written."""


@dataclass(frozen=True)
class TableCount:
    table: str
    source: int
    target: int

    @property
    def equal(self) -> bool:
        return self.source == self.target


class CountMismatch(Exception):
    """A table's row counts differ after the copy: it was rolled back."""

    def __init__(self, counts: list[TableCount]) -> None:
        super().__init__("row counts differ: the copy was rolled back, nothing was written")
        self.counts = counts


@dataclass(frozen=True)
class CopyResult:
    target_schema_found: int  # the target's schema version before it was migrated
    counts: list[TableCount]
    sequences: dict[str, int]  # "table.column": the identity's last value, the next is one more


async def copy_sqlite_to_postgres(
    source: Path, target_url: str, *, chunk_rows: int = CHUNK_ROWS
) -> CopyResult:
    """Copy the SQLite database at `source` (opened read-only, at the current schema version)
    into the empty PostgreSQL database `target_url` (migrated first). CopyRefused, or
    CountMismatch after a rollback; StoreUnavailable when PostgreSQL cannot be reached."""
    db = _open_source(source)
    try:
        with unavailable_on_error():
            conn = await asyncpg.connect(target_url, timeout=CONNECT_TIMEOUT_SECONDS)
        try:
            return await _copy(db, conn, chunk_rows)
        finally:
            await conn.close()
    finally:
        db.close()


def _open_source(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise CopyRefused(f"no SQLite database at {path}")
    db = sqlite3.connect(
        f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
        check_same_thread=False,  # chunks are read in a worker thread, one at a time
    )  # fmt: skip
    try:
        # One read transaction: every table and every count from the same snapshot.
        db.execute("BEGIN")
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        _check_source_version(path, db.execute("PRAGMA user_version").fetchone()[0])
    except BaseException:
        db.close()
        raise
    return db


def _check_source_version(path: Path, version: int) -> None:
    if version == SCHEMA_VERSION:
        return
    if version == 0:
        raise CopyRefused(f"{path} is not a pushgate database (schema version 0)")
    if version > SCHEMA_VERSION:
        raise CopyRefused(
            f"{path} has schema version {version}; this pushgate knows up to "
            f"{SCHEMA_VERSION}. Upgrade pushgate."
        )
    raise CopyRefused(
        f"{path} has schema version {version}; copy-db copies version {SCHEMA_VERSION}. "
        f"Run `pushgate migrate --database sqlite:///{path}` first."
    )


async def _copy(db: sqlite3.Connection, conn: asyncpg.Connection, chunk_rows: int) -> CopyResult:
    found = await schema_version(conn)
    if 0 < found <= SCHEMA_VERSION:
        await _refuse_if_not_empty(conn)  # before migrating: a refused target is not touched
    await migrate(conn)
    async with conn.transaction():
        # Gateways already pointed at the target wait: nothing lands between check and copy.
        await conn.execute(f"LOCK TABLE {', '.join(TABLES)} IN EXCLUSIVE MODE")
        await _check_tables(db, conn)
        await _refuse_if_not_empty(conn)
        await conn.execute("DELETE FROM meta")
        for table in TABLES:
            await _copy_table(db, conn, table, chunk_rows)
        sequences = await _advance_sequences(db, conn)
        counts = [await _count(db, conn, table) for table in TABLES]
        if not all(count.equal for count in counts):
            raise CountMismatch(counts)
    # Plans from the copied data at once, not after autovacuum's first pass; the copy is
    # committed by now, so a failure here is no failure of the copy.
    with suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        await conn.execute(f"ANALYZE {', '.join(TABLES)}")
    return CopyResult(found, counts, sequences)


async def _refuse_if_not_empty(conn: asyncpg.Connection) -> None:
    for table in DATA_TABLES:
        if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table):
            continue
        if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):
            raise CopyRefused(
                f"the target database is not empty ({table} has rows): copy-db writes only "
                "into a new, empty database"
            )


async def _check_tables(db: sqlite3.Connection, conn: asyncpg.Connection) -> None:
    """Both schemas hold exactly the tables this module copies."""
    sqlite_tables = {
        row[0]
        for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    }
    pg_tables = {
        row[0]
        for row in await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'schema_version'"
        )
    }
    for side, found in (("SQLite", sqlite_tables), ("PostgreSQL", pg_tables)):
        if found != set(TABLES):
            unknown = sorted(found ^ set(TABLES))
            raise CopyRefused(f"copy-db does not know how to copy the {side} tables {unknown}")


async def _copy_table(
    db: sqlite3.Connection, conn: asyncpg.Connection, table: str, chunk_rows: int
) -> None:
    rows = await conn.fetch(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        table,
    )
    columns = [(str(row["column_name"]), str(row["data_type"])) for row in rows]
    expressions = _sqlite_expressions(db, table, [name for name, _ in columns])
    _check_values(db, table, columns, expressions)
    cursor = db.execute(f"SELECT {', '.join(expressions)} FROM {table}")
    try:
        stream = _stream(cursor, _row_converter(columns), chunk_rows)
        async with aclosing(stream) as records:
            await conn.copy_records_to_table(
                table, records=records, columns=[n for n, _ in columns]
            )
    finally:
        cursor.close()


def _sqlite_expressions(db: sqlite3.Connection, table: str, pg_columns: list[str]) -> list[str]:
    """What to SELECT from SQLite for each of PostgreSQL's columns; CopyRefused if the two
    schemas' columns differ (a migration made on one side only)."""
    sqlite_columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
    expected = {n for n in pg_columns if (table, n) not in SQLITE_EXPRESSIONS}
    expected |= REPLACED_SQLITE_COLUMNS.get(table, set())
    if sqlite_columns != expected:
        raise CopyRefused(
            f"the {table} table's columns differ: SQLite only {sorted(sqlite_columns - expected)}"
            f", PostgreSQL only {sorted(expected - sqlite_columns)}"
        )
    return [SQLITE_EXPRESSIONS.get((table, name), f'"{name}"') for name in pg_columns]


# The SQLite storage classes each PostgreSQL type takes exactly (through CONVERTERS for
# boolean and bytea). A real in an integer column is refused: asyncpg would truncate it.
STORAGE_CLASSES = {
    "text": "'text'",
    "integer": "'integer'",
    "bigint": "'integer'",
    "double precision": "'integer', 'real'",
    "boolean": "'integer'",
    "bytea": "'blob', 'text'",
}


def _check_values(
    db: sqlite3.Connection, table: str, columns: list[tuple[str, str]], expressions: list[str]
) -> None:
    """CopyRefused naming the first column whose SQLite values its PostgreSQL type would not
    take exactly; one scan of the table in SQLite, and one a column when something is off."""
    conditions = []
    for (name, kind), expression in zip(columns, expressions, strict=True):
        if kind not in STORAGE_CLASSES:
            raise CopyRefused(f"copy-db does not know how to copy {table}.{name} ({kind})")
        condition = f"typeof({expression}) NOT IN ('null', {STORAGE_CLASSES[kind]})"
        if kind == "boolean":
            condition += f" OR {expression} NOT IN (0, 1)"
        conditions.append((name, kind, expression, condition))
    any_misfit = " OR ".join(f"({condition})" for *_, condition in conditions)
    if not db.execute(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE {any_misfit})").fetchone()[0]:
        return
    for name, kind, expression, condition in conditions:
        found = db.execute(
            f"SELECT {expression}, typeof({expression}) FROM {table} WHERE {condition} LIMIT 1"
        ).fetchone()
        if found:
            raise CopyRefused(f"{table}.{name} holds the {found[1]} {found[0]!r}: not {kind}")


_FLAGS: dict[Any, bool | None] = {0: False, 1: True, None: None}


def _flag(value: Any) -> bool | None:
    """SQLite's INTEGER 0/1 flags become BOOLEAN (_check_values let only 0, 1 and NULL by)."""
    return _FLAGS[value]


def _blob(value: Any) -> Any:
    """meta's values: BLOBs stay bytes, text (the write probe) becomes its UTF-8 bytes."""
    return value.encode() if isinstance(value, str) else value


# Only these need converting: asyncpg's binary COPY takes SQLite's text, integers and reals
# as they are (an integer into double precision exactly, below 2**53).
CONVERTERS: dict[str, Callable[[Any], Any]] = {"boolean": _flag, "bytea": _blob}


def _row_converter(
    columns: list[tuple[str, str]],
) -> Callable[[tuple[Any, ...]], tuple[Any, ...]] | None:
    steps = [(i, CONVERTERS[kind]) for i, (_, kind) in enumerate(columns) if kind in CONVERTERS]
    if not steps:
        return None

    def convert(row: tuple[Any, ...]) -> tuple[Any, ...]:
        values = list(row)
        for i, step in steps:
            values[i] = step(values[i])
        return tuple(values)

    return convert


async def _stream(
    cursor: sqlite3.Cursor,
    convert: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None,
    chunk_rows: int,
) -> AsyncGenerator[tuple[Any, ...], None]:
    """The cursor's rows, one chunk in memory at a time; the next chunk is read from SQLite
    (in a thread) while PostgreSQL takes this one."""

    def fetch() -> asyncio.Future[list[Any]]:
        return asyncio.ensure_future(asyncio.to_thread(cursor.fetchmany, chunk_rows))

    pending = fetch()
    try:
        while rows := await pending:
            pending = fetch()
            for row in rows if convert is None else map(convert, rows):
                yield row
    finally:
        with suppress(Exception):  # stopped early: let the read in flight end before closing
            await pending


async def _advance_sequences(db: sqlite3.Connection, conn: asyncpg.Connection) -> dict[str, int]:
    """Move each identity past the highest key SQLite ever gave (AUTOINCREMENT's mark, which
    a deleted row's key leaves behind), so new rows never reuse a key a token names."""
    marks = {str(name): int(seq) for name, seq in db.execute("SELECT * FROM sqlite_sequence")}
    identities = await conn.fetch(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND is_identity = 'YES' ORDER BY table_name"
    )
    advanced = {}
    for table, column in identities:
        copied = await conn.fetchval(f"SELECT coalesce(max({column}), 0) FROM {table}")
        last = max(marks.get(table, 0), int(copied))
        if last > 0:
            await conn.execute(
                "SELECT setval(pg_get_serial_sequence($1, $2), $3)", table, column, last
            )
        advanced[f"{table}.{column}"] = last
    return advanced


async def _count(db: sqlite3.Connection, conn: asyncpg.Connection, table: str) -> TableCount:
    source = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return TableCount(table, int(source), int(await conn.fetchval(f"SELECT count(*) FROM {table}")))
