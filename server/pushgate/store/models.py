"""The store's records: frozen dataclasses, never rows or cursors.

The two a broadcast makes once per message, DeliveryTarget and DeliveryResult, are NamedTuples:
just as immutable, and built in a third of the time (a frozen dataclass sets each field through
object.__setattr__, 2.2 µs a record, and a million-subscriber broadcast builds two million).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pushgate.audience import tree
from pushgate.audience.parse import parse_filter
from pushgate.webpush.vapid import VapidKeyPair

# A tag's value keeps its JSON type: a string, a finite number or a boolean ("5" is not 5).
TagValue = str | int | float | bool

# A wall-clock time occurs again within a day, a day and an hour across a DST change.
LOCAL_TIME_SPAN_SECONDS = 25 * 3600


# A frequency cap's period: a whole number and a unit, "90m", "24h", "7d".
PERIOD_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class QuietHours:
    """Hours, in each subscriber's local time, when a site sends nothing: from `start` up to
    `end` ("HH:MM", 24-hour; start after end wraps midnight; pushgate.site_rules checks them)."""

    start: str
    end: str
    allow_high_urgency: bool = False

    @property
    def start_minute(self) -> int:
        return _minute_of_day(self.start)

    @property
    def end_minute(self) -> int:
        return _minute_of_day(self.end)

    def contains(self, minute_of_day: int) -> bool:
        """Whether a local wall-clock minute (0-1439) is quiet; `end` itself is not."""
        start, end = self.start_minute, self.end_minute
        if start < end:
            return start <= minute_of_day < end
        return minute_of_day >= start or minute_of_day < end  # wraps midnight

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "allow_high_urgency": self.allow_high_urgency}


def _minute_of_day(clock: str) -> int:
    hours, _, minutes = clock.partition(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True)
class FrequencyCap:
    """At most `max` notifications accepted per subscriber within the rolling `period`."""

    max: int
    period: str  # as set: "24h"; pushgate.site_rules checks it

    @property
    def period_seconds(self) -> int:
        return int(self.period[:-1]) * PERIOD_UNIT_SECONDS[self.period[-1]]

    def to_json(self) -> dict[str, Any]:
        return {"max": self.max, "period": self.period}


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    origins: tuple[str, ...]
    vapid: VapidKeyPair
    created_at: float
    # The soft prompt's words and snooze; None: the snippet's own defaults.
    prompt_text: str | None = None
    default_timezone: str = "UTC"  # for subscribers whose time zone is unknown
    quiet_hours: QuietHours | None = None
    frequency_cap: FrequencyCap | None = None
    prompt_accept: str | None = None
    prompt_dismiss: str | None = None
    prompt_snooze_days: int | None = None

    def allows_origin(self, origin: str | None) -> bool:
        return origin is not None and origin.rstrip("/") in self.origins


# The fields of a site that SiteChange may set (the delivery rules are SiteRules').
SITE_CHANGE_FIELDS = (
    "name",
    "origins",
    "prompt_text",
    "prompt_accept",
    "prompt_dismiss",
    "prompt_snooze_days",
)


@dataclass(frozen=True)
class SiteChange:
    """A change to a site's name, origins (the whole list, normalised) or prompt: each name in
    `given` is set to its field here (None resets a prompt field); the others stay as stored."""

    name: str = ""
    origins: tuple[str, ...] = ()
    prompt_text: str | None = None
    prompt_accept: str | None = None
    prompt_dismiss: str | None = None
    prompt_snooze_days: int | None = None
    given: frozenset[str] = frozenset()

    def values(self) -> dict[str, object]:
        """The given fields and their values, in SITE_CHANGE_FIELDS order."""
        return {name: getattr(self, name) for name in SITE_CHANGE_FIELDS if name in self.given}


@dataclass(frozen=True)
class ApiKey:
    """A site's API key as listed: never the key, nor its hash."""

    id: str
    site_id: str
    name: str
    created_at: float
    last_used_at: float | None = None


@dataclass(frozen=True)
class SiteRules:
    """A change to a site's delivery rules: each name in `given` is set to its field here
    (None clears quiet_hours or frequency_cap); the others stay as stored."""

    default_timezone: str = "UTC"
    quiet_hours: QuietHours | None = None
    frequency_cap: FrequencyCap | None = None
    given: frozenset[str] = frozenset()


@dataclass(frozen=True)
class NewSubscription:
    endpoint: str
    p256dh: str
    auth: str
    timezone: str | None = None
    language: str | None = None
    tags: dict[str, TagValue] | None = None  # None: keep what is stored
    external_id: str | None = None
    browser: str | None = None
    old_endpoint: str | None = None  # pushsubscriptionchange: move this subscriber
    country: str | None = None  # ISO 3166-1 alpha-2 from GeoIP (None: from the time zone)
    clear_external_id: bool = False  # "external_id": null was sent


@dataclass(frozen=True)
class Subscription:
    id: str
    site_id: str
    endpoint: str
    p256dh: str
    auth: str
    timezone: str | None
    language: str | None
    tags: dict[str, TagValue]
    external_id: str | None
    browser: str | None
    created_at: float
    last_seen_at: float


@dataclass(frozen=True)
class SubscriptionChanges:
    """A change to a stored subscription: `tags` merged into its tags (a None value deletes that
    tag), and each of `fields` (external_id, timezone, language) set, None clearing it."""

    tags: Mapping[str, TagValue | None] = field(default_factory=dict)
    fields: Mapping[str, str | None] = field(default_factory=dict)


# What the store applies to a subscription it read inside one write: the new subscription.
# The rules (merging, limits) live in the function, above the store; raising writes nothing.
SubscriptionEdit = Callable[[Subscription], Subscription]


@dataclass(frozen=True)
class Audience:
    """Who a notification goes to; exactly one of the selectors is set (or `everyone`)."""

    everyone: bool = False
    tags: dict[str, TagValue] | None = None
    external_ids: tuple[str, ...] | None = None
    subscription_ids: tuple[str, ...] | None = None
    filter: tree.Node | None = None  # {"filter": F}, checked by pushgate.audience.parse
    segment: str | None = None  # {"segment": NAME}: a saved segment, resolved at delivery

    def to_json(self) -> dict[str, Any]:
        if self.tags is not None:
            return {"tags": self.tags}
        if self.external_ids is not None:
            return {"external_ids": list(self.external_ids)}
        if self.subscription_ids is not None:
            return {"subscription_ids": list(self.subscription_ids)}
        if self.filter is not None:
            return {"filter": tree.to_json(self.filter)}
        if self.segment is not None:
            return {"segment": self.segment}
        return {"all": True}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Audience:
        if "tags" in data:
            return cls(tags=dict(data["tags"]))
        if "external_ids" in data:
            return cls(external_ids=tuple(data["external_ids"]))
        if "subscription_ids" in data:
            return cls(subscription_ids=tuple(data["subscription_ids"]))
        if "filter" in data:
            return cls(filter=parse_filter(data["filter"]))  # stored trees were checked
        if "segment" in data:
            return cls(segment=str(data["segment"]))
        return cls(everyone=True)

    @property
    def as_tree(self) -> tree.Node | None:
        """The audience as a filter tree: a filter, a segment or tags (each must equal); None
        for everyone and for lists of ids."""
        if self.filter is not None:
            return self.filter
        if self.segment is not None:
            return tree.SegmentRef(self.segment)
        if self.tags is not None:
            return tree.And(tuple(tree.Leaf(f"tags.{k}", "eq", v) for k, v in self.tags.items()))
        return None


@dataclass(frozen=True)
class Segment:
    """A saved filter of a site, named 1-64 of a-z 0-9 _ -."""

    name: str
    filter: tree.Node
    description: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class NewNotification:
    payload: dict[str, Any]  # the "notification" member of the push payload
    audience: Audience
    ttl: int
    urgency: str | None = None
    topic: str | None = None
    idempotency_key: str | None = None
    request_hash: str = ""
    send_at: float | None = None  # epoch seconds; None: now
    deliver_at_local: str | None = None  # "HH:MM" in each subscriber's time zone
    throttle_per_minute: int | None = None
    ignore_quiet_hours: bool = False
    ignore_frequency_cap: bool = False
    content: dict[str, Any] | None = None  # language variants, per-subscriber templates
    ab_test: dict[str, Any] | None = None  # content/ab_test.py AbTest as JSON; None: no test
    # An older notification with the same idempotency key gives the key up (a webhook's
    # dedupe key holds for 7 days); None: a key holds for ever.
    idempotency_since: float | None = None

    def initial_status(self, now: float) -> str:
        """`scheduled` until its first delivery may be due, else `queued`."""
        later = self.send_at is not None and self.send_at > now
        return "scheduled" if later or self.deliver_at_local else "queued"


@dataclass(frozen=True)
class Counts:
    targeted: int = 0
    accepted: int = 0
    failed: int = 0
    gone: int = 0
    delivered: int = 0
    clicked: int = 0
    dismissed: int = 0
    capped: int = 0  # skipped: the site's frequency cap was reached
    cancelled: int = 0  # not sent: the notification was cancelled first

    @property
    def pending(self) -> int:
        settled = self.accepted + self.failed + self.gone + self.capped + self.cancelled
        return self.targeted - settled

    def to_json(self) -> dict[str, int]:
        return {
            "targeted": self.targeted,
            "accepted": self.accepted,
            "failed": self.failed,
            "gone": self.gone,
            "pending": self.pending,
            "capped": self.capped,
            "cancelled": self.cancelled,
            "delivered": self.delivered,
            "clicked": self.clicked,
            "dismissed": self.dismissed,
        }


@dataclass(frozen=True)
class Notification:
    id: str
    key: int  # internal sequence number, used in delivery tokens
    site_id: str
    payload: dict[str, Any]
    audience: Audience
    ttl: int
    urgency: str | None
    topic: str | None
    idempotency_key: str | None
    request_hash: str
    status: str  # scheduled | queued | sending | done | failed | cancelled
    created_at: float
    expanded: bool
    counts: Counts = field(default_factory=Counts)
    error: str | None = None  # why delivery failed as a whole (status "failed")
    send_at: float | None = None
    deliver_at_local: str | None = None
    throttle_per_minute: int | None = None
    ignore_quiet_hours: bool = False
    ignore_frequency_cap: bool = False
    content: dict[str, Any] | None = None  # content/variants.py Content as JSON; None: plain
    ab_test: dict[str, Any] | None = None  # content/ab_test.py AbTest as JSON; None: no test
    winner: int | None = None  # the A/B test's winning variant, once chosen

    @property
    def starts_at(self) -> float:
        return self.created_at if self.send_at is None else self.send_at

    @property
    def expires_at(self) -> float:
        """When the last of its deliveries may no longer go: a local-time delivery's TTL counts
        from its subscriber's local time, up to LOCAL_TIME_SPAN_SECONDS after the start."""
        span = LOCAL_TIME_SPAN_SECONDS if self.deliver_at_local else 0
        if self.ab_test:  # the rest's TTL counts from the winner's choice
            span = int(self.ab_test["winner_after_seconds"])
        return self.starts_at + span + self.ttl


class DeliveryTarget(NamedTuple):
    """One subscriber of one notification, with what is needed to encrypt and send."""

    notification_key: int
    subscription_key: int
    endpoint: str
    p256dh: str
    auth: str
    attempts: int
    expires_at: float = 0.0  # its own end of life (local time, quiet hours); 0: the notification's
    variant: int | None = None  # its A/B variant; None: the notification has no test


class DeliveryResult(NamedTuple):
    """What became of one delivery; `pending` means: try again at `next_attempt_at`."""

    notification_key: int
    subscription_key: int
    state: str  # accepted | gone | failed | pending (retry later)
    status: int
    reason: str = ""
    next_attempt_at: float = 0.0


@dataclass(frozen=True)
class DeliveryRef:
    """What an event token names."""

    notification_key: int
    subscription_key: int
    site_id: str


class SubscriberProfile(NamedTuple):
    """What a template may read of one subscriber (`subscriber.*`); crosses the pipe to the
    send workers with each message of a notification whose content differs per subscriber."""

    language: str | None
    tags: dict[str, TagValue]
    timezone: str | None
    country: str | None  # GeoIP's, else the time zone's
    external_id: str | None
    browser: str | None = None
    push_service: str | None = None
    created_at: float = 0.0
    last_seen_at: float = 0.0
