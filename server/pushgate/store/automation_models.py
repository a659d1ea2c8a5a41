"""The store's records of automation (issue #11): webhooks, feeds, tracked events, triggers
and their runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pushgate.store.models import TagValue


@dataclass(frozen=True)
class Webhook:
    """An incoming webhook: `POST /hooks/<token>` renders `notification` over the body."""

    id: str
    site_id: str
    name: str
    token: str  # the URL's secret part
    secret: str | None  # HMAC-SHA256 key the caller signs bodies with; None: unsigned
    notification: dict[str, Any]  # a notification request whose strings may be templates
    dedupe_key: str | None  # a template; the same rendered key within 7 days sends once
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class Feed:
    """An RSS or Atom feed polled every `interval_seconds`; each new entry becomes a
    notification from `notification` (templates over `item`; None: the default mapping)."""

    id: str
    site_id: str
    url: str
    notification: dict[str, Any] | None
    interval_seconds: int
    next_poll_at: float
    created_at: float
    updated_at: float
    primed: bool = False  # the first poll recorded the entries already there
    etag: str | None = None
    last_modified: str | None = None
    last_polled_at: float | None = None
    last_status: str | None = None  # ok | not_modified | error
    last_error: str | None = None
    failures: int = 0  # polls failed in a row (the backoff)
    sent: int = 0  # entries sent as notifications


@dataclass(frozen=True)
class PollOutcome:
    """What one poll of a feed found, written back as it releases the feed."""

    status: str  # ok | not_modified | error
    error: str | None
    etag: str | None
    last_modified: str | None
    primed: bool
    failures: int
    next_poll_at: float
    sent: int  # new notifications this poll


@dataclass(frozen=True)
class Trigger:
    """A rule run on tracked events: `definition` as the API took it (checked)."""

    id: str
    site_id: str
    name: str
    definition: dict[str, Any]  # when, delay, unless, group_by, action
    enabled: bool
    created_at: float
    updated_at: float
    fired: int = 0
    cancelled: int = 0
    pending: int = 0


@dataclass(frozen=True)
class PendingEvent:
    """A tracked event the trigger processor has not read yet, with its user."""

    key: int
    site_id: str
    id: str
    name: str
    props: dict[str, TagValue]
    occurred_at: float
    subscription_key: int | None
    subscription_id: str | None  # that subscription's public id, if it still exists
    external_id: str | None  # the event's, else its subscription's


@dataclass(frozen=True)
class RunStart:
    """Start a run, or restart the pending one of the same trigger, user and group."""

    trigger_id: str
    user_key: str
    group_value: str
    event: dict[str, Any]  # the when event, and the audience the run sends to
    started_at: float
    due_at: float
    restart: bool  # with group_by: an open run is moved, not doubled


@dataclass(frozen=True)
class RunCancel:
    """An unless event at `at`: cancel a trigger's pending runs of the user (of one group, or
    any) that started at most `within` seconds before it and are not due by then."""

    trigger_id: str
    user_key: str
    group_value: str | None  # None: every group
    at: float
    within: float


@dataclass(frozen=True)
class DueRun:
    key: int
    trigger_id: str
    site_id: str
    user_key: str
    event: dict[str, Any]
    definition: dict[str, Any]


@dataclass(frozen=True)
class NewTrackedEvent:
    id: str
    name: str
    props: dict[str, TagValue]
    occurred_at: float
    external_id: str | None = None
    subscription_id: str | None = None  # by the admin API
    endpoint: str | None = None  # by the page: its browser's subscription


@dataclass(frozen=True)
class TrackedEvent:
    id: str
    name: str
    props: dict[str, TagValue]
    occurred_at: float
    received_at: float
    external_id: str | None
    subscription_id: str | None
