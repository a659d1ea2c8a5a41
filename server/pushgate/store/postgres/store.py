"""The PostgreSQL store: every verb group, and how to open it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from pushgate.store.postgres.ab_tests import AbTestVerbs
from pushgate.store.postgres.claims import ClaimVerbs
from pushgate.store.postgres.connection import migrate as migrate_schema
from pushgate.store.postgres.connection import unavailable_on_error
from pushgate.store.postgres.dashboard_sessions import DashboardSessionVerbs
from pushgate.store.postgres.deliveries import DeliveryVerbs
from pushgate.store.postgres.event_hooks import EventHookVerbs
from pushgate.store.postgres.feeds import FeedVerbs
from pushgate.store.postgres.leases import LeaseVerbs
from pushgate.store.postgres.notifications import NotificationVerbs
from pushgate.store.postgres.observability import ObservabilityVerbs
from pushgate.store.postgres.profiles import ProfileVerbs
from pushgate.store.postgres.prompts import PromptVerbs
from pushgate.store.postgres.segments import SegmentVerbs
from pushgate.store.postgres.sites import SiteVerbs
from pushgate.store.postgres.stats import StatsVerbs
from pushgate.store.postgres.subscriptions import SubscriptionVerbs
from pushgate.store.postgres.timeline import TimelineVerbs
from pushgate.store.postgres.tracked_events import TrackedEventVerbs
from pushgate.store.postgres.triggers import TriggerVerbs
from pushgate.store.postgres.webhooks import WebhookVerbs
from pushgate.store.sealing import Sealer

CONNECT_TIMEOUT_SECONDS = 10.0
COMMAND_TIMEOUT_SECONDS = 60.0  # no statement of ours runs this long; a hung server does


class PostgresStore(
    AbTestVerbs,
    SiteVerbs,
    SubscriptionVerbs,
    NotificationVerbs,
    DeliveryVerbs,
    ObservabilityVerbs,
    SegmentVerbs,
    ClaimVerbs,
    LeaseVerbs,
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
    """The store many gateways share: one PostgreSQL database, a pool per process."""

    @classmethod
    @asynccontextmanager
    async def open(
        cls, url: str, sealer: Sealer | None = None, *, pool_size: int = 10, migrate: bool = True
    ) -> AsyncIterator[PostgresStore]:
        """Connect, migrate (or with `migrate=False` check) the schema, and fail at once if
        the VAPID keys are sealed with a key this process does not have."""
        with unavailable_on_error():
            pool = await asyncpg.create_pool(
                url,
                # All connections open at start: a connect under load mid-broadcast (a new
                # backend forked while the machine is busy) could outlast its timeout.
                min_size=pool_size,
                max_size=pool_size,
                timeout=CONNECT_TIMEOUT_SECONDS,
                command_timeout=COMMAND_TIMEOUT_SECONDS,
            )
        try:
            async with pool.acquire() as conn:
                await migrate_schema(conn, apply=migrate)
            store = cls(pool, sealer)
            await store._check_site_keys()
            try:
                yield store
            finally:
                await store._stop_listening()
        finally:
            await pool.close()
