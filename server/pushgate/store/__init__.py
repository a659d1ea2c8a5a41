"""Storage behind one interface (`Store`); SQLite by default."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pushgate.settings import Settings
from pushgate.store.base import (
    IdempotencyConflict,
    SchemaBehind,
    SchemaTooNew,
    Store,
    StoreUnavailable,
)
from pushgate.store.sealing import SealedKeyUnavailable, Sealer, parse_secret_keys
from pushgate.store.sqlite import SQLiteStore

__all__ = [
    "IdempotencyConflict",
    "SchemaBehind",
    "SchemaTooNew",
    "SealedKeyUnavailable",
    "Store",
    "StoreUnavailable",
    "open_store",
]


@asynccontextmanager
async def open_store(settings: Settings | str, *, migrate: bool = True) -> AsyncIterator[Store]:
    """Open the store a database URL (or the settings' `database`) names: SQLite, or
    PostgreSQL for a `postgresql://` URL. Both migrate the schema first unless `migrate` is
    False (then an older schema is SchemaBehind); a newer one is SchemaTooNew.

    With settings, VAPID private keys are sealed with `secret_key`; SettingsError if it is not
    a list of Fernet keys, SealedKeyUnavailable if the database's keys are sealed with others.
    """
    if isinstance(settings, str):
        settings = Settings(database=settings)
    settings.validate_database()
    sealer = Sealer(parse_secret_keys(settings.secret_key))
    if settings.uses_postgres:
        from pushgate.store.postgres import PostgresStore  # asyncpg only when it is used

        async with PostgresStore.open(
            settings.database, sealer, pool_size=settings.database_pool_size, migrate=migrate
        ) as pg_store:
            yield pg_store
        return
    async with SQLiteStore.open(settings.sqlite_path, sealer, migrate=migrate) as store:
        yield store
