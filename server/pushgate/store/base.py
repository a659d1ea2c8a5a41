"""The Store interface: the domain verbs every backend implements."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from pushgate.store.models import (
    Audience,
    DeliveryRef,
    DeliveryResult,
    DeliveryTarget,
    NewNotification,
    NewSubscription,
    Notification,
    Segment,
    Site,
    SiteRules,
    SubscriberProfile,
    Subscription,
    SubscriptionEdit,
    Webhook,
)

# For each distinct time zone of a batch (None: none known), its (due, expires_at).
DuePlan = Callable[[Sequence[str | None]], Mapping[str | None, tuple[float, float]]]
# Per subscriber time zone, the time before which a due delivery must still wait (quiet hours).
HoldPlan = Callable[[Sequence[str | None]], Mapping[str | None, float]]


class StoreUnavailable(Exception):
    """The database cannot be read or written now (disk full, I/O error, unreachable); the
    caller may try again later. Answered as 503 store_unavailable."""


class SchemaTooNew(RuntimeError):
    """The database was written by a newer pushgate."""


class SchemaBehind(RuntimeError):
    """The database's schema is older than this pushgate's, and migrating was not asked for."""


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different request body."""


class SubscriptionLimitReached(Exception):
    """The site holds `max_subscriptions` already; the new subscription was not stored."""


class SegmentExists(Exception):
    """The site has a segment of that name already; nothing was stored."""


class WebhookExists(Exception):
    """The site has a webhook of that name already; nothing was stored."""


class SegmentInUse(Exception):
    """Another segment, or a notification yet to finish reading its audience, names the
    segment; it was not deleted. The message says which."""


class Store(Protocol):
    # sites and keys
    async def ping(self) -> None: ...
    async def create_site(self, name: str, origins: Sequence[str]) -> tuple[Site, str]: ...
    async def get_site(self, site_id: str) -> Site | None: ...
    async def find_site_by_name(self, name: str) -> Site | None: ...
    async def site_for_api_key(self, api_key: str) -> Site | None: ...
    async def update_site_rules(self, site_id: str, rules: SiteRules) -> Site | None: ...
    async def origin_is_registered(self, origin: str) -> bool: ...
    async def event_secret(self) -> bytes: ...
    async def reseal_site_keys(self) -> int: ...

    # subscriptions
    async def upsert_subscription(
        self, site_id: str, sub: NewSubscription, *, max_subscriptions: int = 0
    ) -> tuple[Subscription, bool]: ...
    async def add_subscriptions_bulk(
        self, site_id: str, subs: Sequence[NewSubscription], *, max_subscriptions: int = 0
    ) -> int: ...
    async def remove_subscription_by_endpoint(self, site_id: str, endpoint: str) -> bool: ...
    async def remove_subscription(self, site_id: str, subscription_id: str) -> bool: ...
    async def list_subscriptions(
        self, site_id: str, *, limit: int, after: int
    ) -> tuple[list[Subscription], int | None]: ...
    async def update_subscription(
        self, site_id: str, subscription_id: str, edit: SubscriptionEdit
    ) -> Subscription | None: ...
    async def update_user_subscriptions(
        self, site_id: str, external_id: str, edit: SubscriptionEdit
    ) -> int: ...

    # notifications
    async def create_notification(
        self, site_id: str, new: NewNotification, *, now: float | None = None
    ) -> tuple[Notification, bool]: ...
    async def get_notification(self, site_id: str, notification_id: str) -> Notification | None: ...
    async def active_notifications(self, now: float | None = None) -> list[Notification]: ...
    async def list_notifications(
        self, site_id: str, *, status: str | None, limit: int, after: int
    ) -> tuple[list[Notification], int | None]: ...
    async def cancel_notification(
        self, site_id: str, notification_id: str, *, from_statuses: Collection[str]
    ) -> Notification | None: ...
    async def cancel_pending(self, notification_key: int, *, leased_too: bool = False) -> int: ...

    # delivery
    async def expand_audience(
        self, notification: Notification, limit: int, lease_until: float
    ) -> list[DeliveryTarget]: ...
    async def expand_audience_due(
        self, notification: Notification, limit: int, plan: DuePlan
    ) -> int: ...
    async def release_leases(self) -> None: ...
    async def has_due(self, notification_key: int, now: float) -> bool: ...
    async def claim_due(
        self,
        notification_key: int,
        now: float,
        limit: int,
        lease_until: float,
        *,
        cap: tuple[int, float] | None = None,
        hold: HoldPlan | None = None,
        exclude: Sequence[int] = (),
    ) -> list[DeliveryTarget]: ...
    async def next_retry_at(self, notification_key: int) -> float | None: ...
    async def record_results(
        self, results: Sequence[DeliveryResult], now: float | None = None
    ) -> None: ...
    async def record_accepted(
        self,
        notification_key: int,
        subscription_keys: Sequence[int],
        status: int,
        now: float | None = None,
    ) -> None: ...
    async def expire_pending(self, notification_key: int, reason: str) -> int: ...
    async def finish_notification(self, notification_key: int) -> None: ...
    async def fail_notification(self, notification_key: int, error: str) -> None: ...
    async def defer_deliveries(
        self, notification_key: int, subscription_keys: Sequence[int], until: float
    ) -> None: ...
    async def probe_write(self) -> None: ...
    async def schema_version(self) -> int: ...

    # many gateways on one database (PostgreSQL; SQLite has one process and does nothing here)
    async def renew_leases(
        self, notification_key: int, subscription_keys: Sequence[int], lease_until: float
    ) -> None: ...
    async def announce(self, event: str) -> None: ...
    async def listen(self, on_event: Callable[[str], None]) -> None: ...
    def exclusive(self, notification_key: int) -> AbstractAsyncContextManager[bool]: ...

    # events
    async def delivery_ref(
        self, notification_key: int, subscription_key: int
    ) -> DeliveryRef | None: ...
    async def record_event(self, ref: DeliveryRef, kind: str, action: str | None) -> bool: ...

    # incoming webhooks
    async def create_webhook(self, webhook: Webhook) -> Webhook: ...
    async def get_webhook(self, site_id: str, webhook_id: str) -> Webhook | None: ...
    async def list_webhooks(self, site_id: str) -> list[Webhook]: ...
    async def webhook_by_token(self, token: str) -> Webhook | None: ...
    async def replace_webhook(self, webhook: Webhook) -> Webhook | None: ...
    async def delete_webhook(self, site_id: str, webhook_id: str) -> bool: ...

    # what templates read of subscribers
    async def subscriber_profiles(
        self, subscription_keys: Sequence[int]
    ) -> dict[int, SubscriberProfile]: ...

    # segments and audiences
    async def create_segment(self, site_id: str, segment: Segment) -> Segment: ...
    async def get_segment(self, site_id: str, name: str) -> Segment | None: ...
    async def list_segments(
        self, site_id: str, *, limit: int, after: str
    ) -> tuple[list[Segment], str | None]: ...
    async def replace_segment(self, site_id: str, segment: Segment) -> Segment | None: ...
    async def delete_segment(self, site_id: str, name: str) -> bool: ...
    async def count_audience(self, site_id: str, audience: Audience, now: float) -> int: ...
