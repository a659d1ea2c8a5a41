"""Storage behind one interface (`Store`); SQLite by default."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pushgate.settings import Settings
from pushgate.store.base import IdempotencyConflict, Store
from pushgate.store.sqlite import SchemaTooNew, SQLiteStore

__all__ = ["IdempotencyConflict", "SchemaTooNew", "Store", "open_store"]


@asynccontextmanager
async def open_store(settings: Settings | str) -> AsyncIterator[Store]:
    """Open the store a database URL (or the settings' `database`) names."""
    if isinstance(settings, str):
        settings = Settings(database=settings)
    async with SQLiteStore.open(settings.sqlite_path) as store:
        yield store
