"""The SQLite store: every verb group, and how to open it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from pushgate.store.private_files import prepare_database_file
from pushgate.store.sealing import Sealer
from pushgate.store.sqlite.ab_tests import AbTestVerbs
from pushgate.store.sqlite.claims import ClaimVerbs
from pushgate.store.sqlite.connection import PRAGMAS
from pushgate.store.sqlite.connection import migrate as migrate_schema
from pushgate.store.sqlite.dashboard_sessions import DashboardSessionVerbs
from pushgate.store.sqlite.deliveries import DeliveryVerbs
from pushgate.store.sqlite.event_hooks import EventHookVerbs
from pushgate.store.sqlite.feeds import FeedVerbs
from pushgate.store.sqlite.notifications import NotificationVerbs
from pushgate.store.sqlite.observability import ObservabilityVerbs
from pushgate.store.sqlite.profiles import ProfileVerbs
from pushgate.store.sqlite.prompts import PromptVerbs
from pushgate.store.sqlite.segments import SegmentVerbs
from pushgate.store.sqlite.sites import SiteVerbs
from pushgate.store.sqlite.stats import StatsVerbs
from pushgate.store.sqlite.subscriptions import SubscriptionVerbs
from pushgate.store.sqlite.timeline import TimelineVerbs
from pushgate.store.sqlite.tracked_events import TrackedEventVerbs
from pushgate.store.sqlite.triggers import TriggerVerbs
from pushgate.store.sqlite.webhooks import WebhookVerbs


class SQLiteStore(
    AbTestVerbs,
    SiteVerbs,
    SubscriptionVerbs,
    NotificationVerbs,
    DeliveryVerbs,
    ObservabilityVerbs,
    SegmentVerbs,
    ClaimVerbs,
    ProfileVerbs,
    WebhookVerbs,
    FeedVerbs,
    TriggerVerbs,
    TrackedEventVerbs,
    DashboardSessionVerbs,  # with the operator verbs
    PromptVerbs,
    TimelineVerbs,
    EventHookVerbs,
    StatsVerbs,
):
    """The embedded default store. Writes go through one connection under one lock."""

    @classmethod
    @asynccontextmanager
    async def open(
        cls, path: Path, sealer: Sealer | None = None, *, migrate: bool = True
    ) -> AsyncIterator[SQLiteStore]:
        """Open (creating owner-only) the database; fail at once if its VAPID keys are locked.
        `migrate=False`: refuse an older schema instead of bringing it up to date."""
        prepare_database_file(path)
        writer = await aiosqlite.connect(path, isolation_level=None)
        reader = None
        try:
            for pragma in PRAGMAS:
                await writer.execute(pragma)
            await migrate_schema(writer, apply=migrate)
            reader = await aiosqlite.connect(path, isolation_level=None)
            reader.row_factory = aiosqlite.Row
            for pragma in PRAGMAS[1:]:
                await reader.execute(pragma)
            store = cls(writer, reader, sealer)
            await store._check_site_keys()
            yield store
        finally:
            if reader is not None:
                await reader.close()
            await writer.close()
