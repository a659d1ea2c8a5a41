"""PostgreSQL connections: an asyncpg pool, short transactions, schema migrations under an
advisory lock, and database errors that mean "not now" turned into StoreUnavailable."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import asyncpg

from pushgate.store.base import SchemaBehind, SchemaTooNew, StoreUnavailable
from pushgate.store.migrations import SCHEMA_VERSION
from pushgate.store.postgres.schema import PG_MIGRATIONS
from pushgate.store.sealing import Sealer

MIGRATION_LOCK = 0x7075_7368_6761_7465  # "pushgate": one migrator at a time across the cluster
# SQLSTATE classes that mean the database cannot serve now, not that the request is wrong:
# connection exceptions, insufficient resources (disk full), operator intervention (shutdown,
# starting up), system errors (I/O), and a read-only standby.
UNAVAILABLE_STATES = ("08", "53", "57P", "58", "25006")


class PostgresConnections:
    """What every verb group shares: the pool and the sealer."""

    def __init__(self, pool: asyncpg.Pool, sealer: Sealer | None = None) -> None:
        self._pool = pool
        self._sealer = sealer or Sealer()
        self._secret: bytes | None = None

    @asynccontextmanager
    async def _transaction(self, *, durable: bool = True) -> AsyncIterator[asyncpg.Connection]:
        """One short transaction on a pooled connection. `durable` (the default): the commit
        waits for the WAL flush, as every acknowledged write must. `durable=False` is for the
        engine's bookkeeping (expansion, claims, outcomes, events): `synchronous_commit = off`
        for this transaction only, so a crash of the database server may lose its last
        fraction of a second (a message sent again within the in-flight window), never
        consistency. A later durable commit makes the earlier ones durable too."""
        with unavailable_on_error():
            async with self._pool.acquire() as conn, conn.transaction():
                if not durable:
                    await conn.execute("SET LOCAL synchronous_commit = off")
                yield conn

    async def _one(self, sql: str, *args: Any) -> asyncpg.Record | None:
        with unavailable_on_error():
            async with self._pool.acquire() as conn:
                return await conn.fetchrow(sql, *args)

    async def _all(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        with unavailable_on_error():
            async with self._pool.acquire() as conn:
                return list(await conn.fetch(sql, *args))

    async def probe_write(self) -> None:
        """A real, durable write: raises StoreUnavailable when the database cannot take one."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO meta VALUES ('write_probe', $1) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                str(time.time()).encode(),
            )

    async def ping(self) -> None:
        await self._one("SELECT 1")

    async def schema_version(self) -> int:
        with unavailable_on_error():
            async with self._pool.acquire() as conn:
                return await schema_version(conn)


@contextmanager
def unavailable_on_error() -> Iterator[None]:
    """The server is down, unreachable, out of disk or shutting down: it cannot serve now."""
    try:
        yield
    except asyncpg.PostgresError as exc:
        if str(getattr(exc, "sqlstate", "") or "").startswith(UNAVAILABLE_STATES):
            raise StoreUnavailable(_describe(exc)) from exc
        raise
    except (OSError, TimeoutError, asyncpg.InterfaceError) as exc:
        # Connection refused or reset, a pool that could not connect in time, a connection
        # closed under the query: all mean "not now".
        raise StoreUnavailable(_describe(exc)) from exc


def _describe(exc: BaseException) -> str:
    return f"PostgreSQL: {exc}" if str(exc) else f"PostgreSQL: {type(exc).__name__}"


async def schema_version(conn: asyncpg.Connection) -> int:
    exists = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT version FROM schema_version") or 0)


async def migrate(conn: asyncpg.Connection, *, apply: bool = True) -> int:
    """Bring the schema to SCHEMA_VERSION (under an advisory lock, so that gateways starting
    together migrate once), or with `apply=False` only check it is there. Returns the version
    found before. SchemaTooNew for a newer schema, SchemaBehind for an older one not applied."""
    with unavailable_on_error():
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        try:
            found = await schema_version(conn)
            if found > SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"the database has schema version {found}; this pushgate knows up to "
                    f"{SCHEMA_VERSION}. Upgrade pushgate."
                )
            if found < SCHEMA_VERSION and not apply:
                raise SchemaBehind(
                    f"the database has schema version {found}; this pushgate needs "
                    f"{SCHEMA_VERSION}. Run `pushgate migrate` (or start serve without "
                    "--no-migrate)."
                )
            for version, script in PG_MIGRATIONS:
                if version <= found:
                    continue
                async with conn.transaction():
                    await conn.execute(script)
                    await conn.execute(
                        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
                    )
                    await conn.execute("DELETE FROM schema_version")
                    await conn.execute("INSERT INTO schema_version VALUES ($1)", version)
            return found
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
