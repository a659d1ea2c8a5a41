"""Storage behind one interface (`Store`); SQLite by default."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pushgate.settings import Settings
from pushgate.store.base import IdempotencyConflict, Store, StoreUnavailable
from pushgate.store.sealing import SealedKeyUnavailable, Sealer, parse_secret_keys
from pushgate.store.sqlite import SchemaTooNew, SQLiteStore

__all__ = [
    "IdempotencyConflict",
    "SchemaTooNew",
    "SealedKeyUnavailable",
    "Store",
    "StoreUnavailable",
    "open_store",
]


@asynccontextmanager
async def open_store(settings: Settings | str) -> AsyncIterator[Store]:
    """Open the store a database URL (or the settings' `database`) names.

    With settings, VAPID private keys are sealed with `secret_key`; SettingsError if it is not
    a list of Fernet keys, SealedKeyUnavailable if the database's keys are sealed with others.
    """
    if isinstance(settings, str):
        settings = Settings(database=settings)
    sealer = Sealer(parse_secret_keys(settings.secret_key))
    async with SQLiteStore.open(settings.sqlite_path, sealer) as store:
        yield store
