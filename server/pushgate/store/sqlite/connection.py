"""SQLite connections: WAL, foreign keys, one writer under one lock, one reader; schema
migrations; database errors that mean "not now" become StoreUnavailable."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import Any

import aiosqlite

from pushgate.store.base import SchemaBehind, SchemaTooNew, StoreUnavailable
from pushgate.store.migrations import MIGRATIONS, SCHEMA_VERSION
from pushgate.store.sealing import Sealer

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # FULL: a 201/202 means the write survives a power cut, not only a crash of the process
    # (NORMAL lost the last 155 of 1,000 acknowledged subscribes to a filesystem error).
    # The engine's own bookkeeping opts out per transaction: see `_transaction`.
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)


class SQLiteConnections:
    """What every verb group shares: the two connections and the write lock."""

    def __init__(
        self,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        sealer: Sealer | None = None,
    ) -> None:
        self._writer = writer
        self._reader = reader
        self._sealer = sealer or Sealer()
        self._write_lock = asyncio.Lock()
        self._durable = True  # the writer's synchronous setting: FULL (True) or NORMAL
        self._secret: bytes | None = None

    @asynccontextmanager
    async def _transaction(self, *, durable: bool = True) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction under the write lock. `durable` (the default): its commit
        waits for the disk (an fsync, ~5 ms here), as every acknowledged write must.
        `durable=False` is for the engine's bookkeeping (expansion, claims, outcomes, events):
        a power cut may lose its last commits, which only means a message sent again within
        the in-flight window or an event uncounted, and a process crash loses nothing (WAL).
        With FULL on every commit, a 100,000 broadcast spent 8.5 s of its writer in fsync.
        A later durable commit makes the earlier ones durable too (the WAL is one file)."""
        async with self._write_lock:
            with _unavailable_on_error():
                if durable is not self._durable:
                    mode = "FULL" if durable else "NORMAL"
                    await self._writer.execute(f"PRAGMA synchronous={mode}")
                    self._durable = durable
                await self._writer.execute("BEGIN IMMEDIATE")
                try:
                    yield self._writer
                except BaseException:
                    with suppress(sqlite3.Error):  # a failed write may have rolled back already
                        await self._writer.execute("ROLLBACK")
                    raise
                try:
                    await self._writer.execute("COMMIT")
                except BaseException:  # disk full at commit: the transaction is still open
                    with suppress(sqlite3.Error):
                        await self._writer.execute("ROLLBACK")
                    raise

    # Each read is one call on the reader's thread (execute_fetchall), not three (execute,
    # fetch, close): each call waits for a turn of the event loop, which at 1,000 subscribes a
    # second is busy serving them (every subscribe reads its site).
    async def _one(self, sql: str, args: Sequence[Any] = ()) -> aiosqlite.Row | None:
        rows = await self._all(sql, args)
        return rows[0] if rows else None

    async def _all(self, sql: str, args: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        with _unavailable_on_error():
            return list(await self._reader.execute_fetchall(sql, args))

    async def probe_write(self) -> None:
        """A real, durable write: raises StoreUnavailable when the database cannot take one."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('write_probe', ?)", (str(time.time()),)
            )

    async def ping(self) -> None:
        await self._one("SELECT 1")

    async def schema_version(self) -> int:
        row = await self._one("PRAGMA user_version")
        return int(row[0]) if row else 0

    # One process owns a SQLite file: nobody else to tell, and nothing to share.
    async def announce(self, event: str) -> None:
        return None

    async def listen(self, on_event: Callable[[str], None]) -> None:
        return None

    @asynccontextmanager
    async def exclusive(self, notification_key: int) -> AsyncIterator[bool]:
        yield True


@contextmanager
def _unavailable_on_error() -> Iterator[None]:
    """Disk full, I/O errors, a read-only or locked file: the database cannot serve now."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise StoreUnavailable(str(exc)) from exc


async def migrate(db: aiosqlite.Connection, *, apply: bool = True) -> int:
    """Bring the schema to SCHEMA_VERSION, or with `apply=False` only check it is there (a new,
    empty file is always set up). Returns the version found before."""
    db.row_factory = aiosqlite.Row
    async with db.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    version = found = row[0] if row else 0
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"the database has schema version {version}; this pushgate knows up to "
            f"{SCHEMA_VERSION}. Upgrade pushgate."
        )
    if 0 < version < SCHEMA_VERSION and not apply:
        raise SchemaBehind(
            f"the database has schema version {version}; this pushgate needs {SCHEMA_VERSION}. "
            "Run `pushgate migrate` (or start serve without --no-migrate)."
        )
    for number in range(version, SCHEMA_VERSION):
        await db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[number]):
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {number + 1}")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        await db.execute("COMMIT")
    return found


def _statements(script: str) -> list[str]:
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
