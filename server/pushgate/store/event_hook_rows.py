"""Event hooks (issue #12 part 8): where a site's events are POSTed, the outbox of events waiting
for each hook, and each hook's recent attempts; the store verbs that keep them. The rules (which
URLs, which events, backoff) live in pushgate.hooks_out; the store keeps what it is given."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pushgate.store.sealing import Sealer

COLUMNS = "id, site_id, url, events, secret, created_at, next_attempt_at, backoff, dropped"
OUTBOX_COLUMNS = "hook_id, type, at, notification_id, subscription_id, action"


@dataclass(frozen=True)
class EventHook:
    id: str
    site_id: str
    url: str
    events: tuple[str, ...]
    secret: str
    created_at: float
    next_attempt_at: float = 0.0  # not before: the backoff after a failed attempt
    backoff: float = 0.0  # seconds waited after the last failure; 0 while the receiver answers
    dropped: int = 0  # events given up after the retry window


@dataclass(frozen=True)
class HookEvent:
    """One event as a receiver gets it (`at`: epoch seconds)."""

    type: str
    at: float
    subscription_id: str
    notification_id: str | None = None
    action: str | None = None


@dataclass(frozen=True)
class HookAttempt:
    at: float
    status: int | None  # the receiver's HTTP status; None: no answer (the error says why)
    error: str | None
    event_count: int


@dataclass(frozen=True)
class AttemptResult:
    """What the dispatcher writes back after an attempt, as it releases the hook's lease."""

    attempt: HookAttempt | None  # None: nothing was sent (nothing was waiting after all)
    sent_keys: Sequence[int]  # outbox rows the receiver took: deleted
    next_attempt_at: float
    backoff: float
    leased_until: float = 0.0  # 0 releases the hook; later: its sender goes on with it


class EventHookStore(Protocol):
    async def create_event_hook(self, hook: EventHook) -> None: ...
    async def list_event_hooks(self, site_id: str) -> list[EventHook]: ...
    async def get_event_hook(self, site_id: str, hook_id: str) -> EventHook | None: ...
    async def delete_event_hook(self, site_id: str, hook_id: str) -> bool: ...
    async def notification_site(self, notification_key: int) -> str | None: ...
    async def event_hook_routes(self) -> list[tuple[str, str, tuple[str, ...]]]: ...
    async def enqueue_hook_events(self, rows: Sequence[tuple[str, HookEvent]]) -> None: ...
    async def enqueue_delivery_events(
        self, hook_ids: Sequence[str], kind: str, notification_key: int,
        subscription_keys: Sequence[int], at: float, action: str | None = None,
    ) -> None: ...  # fmt: skip
    async def subscription_id_by_endpoint(self, site_id: str, endpoint: str) -> str | None: ...
    async def claim_event_hooks(self, now: float, until: float, limit: int) -> list[EventHook]: ...
    async def hook_outbox(self, hook_id: str, limit: int) -> list[tuple[int, HookEvent]]: ...
    async def drop_hook_events(self, hook_id: str, before: float) -> int: ...
    async def finish_hook_attempt(self, hook_id: str, result: AttemptResult, keep: int) -> None: ...
    async def hook_attempts(self, hook_id: str, limit: int) -> list[HookAttempt]: ...


def hook_values(hook: EventHook, sealer: Sealer) -> tuple[object, ...]:
    """The values of COLUMNS."""
    return (
        hook.id, hook.site_id, hook.url, json.dumps(list(hook.events)), sealer.seal(hook.secret),
        hook.created_at, hook.next_attempt_at, hook.backoff, hook.dropped,
    )  # fmt: skip


def hook_from(row: Any, sealer: Sealer) -> EventHook:
    return EventHook(
        row["id"], row["site_id"], row["url"], tuple(json.loads(row["events"])),
        sealer.unseal(row["secret"]), row["created_at"], row["next_attempt_at"], row["backoff"],
        row["dropped"],
    )  # fmt: skip


def outbox_values(hook_id: str, event: HookEvent) -> tuple[object, ...]:
    return (
        hook_id, event.type, event.at, event.notification_id, event.subscription_id, event.action,
    )  # fmt: skip


def event_from(row: Any) -> tuple[int, HookEvent]:
    event = HookEvent(
        row["type"], row["at"], row["subscription_id"], row["notification_id"], row["action"]
    )
    return int(row["key"]), event


def attempt_from(row: Any) -> HookAttempt:
    return HookAttempt(row["at"], row["status"], row["error"], row["event_count"])
