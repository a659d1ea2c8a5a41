"""What crosses the pipe between the main process and a send worker, in both directions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from pushgate.delivery.payload import PayloadTemplate
from pushgate.store.models import SubscriberProfile

if TYPE_CHECKING:
    from pushgate.content.variants import MessageContent


class Target(NamedTuple):  # a tuple: thousands cross the pipe per second, and tuples pickle fast
    subscription_key: int
    endpoint: str
    p256dh: str
    auth: str
    attempts: int
    authorization: str  # the VAPID header for the endpoint's origin (cached, shared object)
    profile: SubscriberProfile | None = None  # only when the content differs per subscriber
    variant: int | None = None  # the delivery's A/B variant, if its notification has a test


@dataclass(frozen=True)
class BatchJob:
    """Messages of one notification to one push service."""

    notification_key: int
    template: PayloadTemplate
    secret: bytes
    ttl: int
    urgency: str | None
    topic: str | None
    targets: Sequence[Target]
    timeout: float  # seconds this push service gets to answer each message
    content: MessageContent | None = None  # set when messages differ: `template` is the default


@dataclass(frozen=True)
class WorkerLimits:
    timeout_seconds: float  # the longest any job may ask for
    max_in_flight_per_host: int
    http2: str = "auto"  # or "off": HTTP/1.1 only (PUSHGATE_HTTP2)


# What a worker reports: accepted messages as bare indices per (batch, status), since they are
# nearly all of them; any other outcome in full; and per batch the answer times it saw.
AcceptedReport = dict[tuple[int, int], list[int]]
OtherReport = list[tuple[int, int, tuple[str, int, str, float]]]
# batch -> (answers, their total seconds, slowest, answers per LATENCY_BOUNDS_SECONDS bucket)
Timings = dict[int, tuple[int, float, float, list[int]]]
Withdrawn = dict[int, list[int]]  # batch -> indices never sent: their notification was cancelled
Report = tuple[AcceptedReport, OtherReport, Timings, Withdrawn]

STOP = "stop"  # the main process's orderly goodbye; end of file without it means it crashed
READY = "ready"  # a worker's first message: imports done and crypto warm, it can take batches
PAUSE = "pause"  # outcomes cannot be recorded: start no new request until RESUME
RESUME = "resume"
WITHDRAW = "withdraw "  # + a notification key [+ " " + a batch id]: send none of those more
ALL_BATCHES = -1


def withdraw_message(notification_key: int, up_to_batch: int = ALL_BATCHES) -> str:
    """Cancelled (every batch of the notification, now and later), or its leases lapsed
    (the batches handed out up to `up_to_batch`: others may have claimed their messages)."""
    return f"{WITHDRAW}{notification_key} {up_to_batch}"


def parse_withdraw(message: str) -> tuple[int, float]:
    """(notification key, the last batch id withdrawn: infinite for a cancel)."""
    key, up_to = message[len(WITHDRAW) :].split()
    bound = int(up_to)
    return int(key), float("inf") if bound == ALL_BATCHES else float(bound)
