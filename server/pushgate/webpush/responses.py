"""What a push service's answer means for the delivery (RFC 8030 §5-§8 and the services' docs)."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MAX_BACKOFF_SECONDS = 15 * 60.0
BASE_BACKOFF_SECONDS = 1.0
DEFAULT_RETRY_AFTER_SECONDS = 30.0
# Retry-After advice is obeyed within bounds: `0` (or a date in the past) from many subscribers
# at once would otherwise be a busy loop against the push service, and a huge value would park
# the message until its TTL runs out.
MIN_RETRY_AFTER_SECONDS = 1.0
RETRY_AFTER_JITTER_SECONDS = 1.0  # added uniformly at random, so retries do not come in step
MAX_RETRY_AFTER_SECONDS = 60 * 60.0


class Verdict(enum.Enum):
    ACCEPTED = "accepted"  # 2xx: the push service holds the message
    GONE = "gone"  # 404/410: the subscription no longer exists; delete it
    RETRY = "retry"  # try again later (after `delay`), until the TTL runs out
    FAILED = "failed"  # permanent: auth problem, payload too large, bad request


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    status: int  # HTTP status, or 0 for a network error or timeout
    reason: str = ""
    delay: float = 0.0  # seconds to wait before retrying (RETRY only)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """RFC 9110 §10.2.3: delay-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_after_delay(advised: float, rng: random.Random | None = None) -> float:
    """The wait before a retry the push service advised: at least MIN_RETRY_AFTER_SECONDS,
    plus up to RETRY_AFTER_JITTER_SECONDS, and at most MAX_RETRY_AFTER_SECONDS."""
    jitter = (rng or random).uniform(0, RETRY_AFTER_JITTER_SECONDS)
    return min(MAX_RETRY_AFTER_SECONDS, max(MIN_RETRY_AFTER_SECONDS, advised) + jitter)


def backoff_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: uniform in [c/2, c], c = min(cap, base·2^attempt)."""
    ceiling = min(MAX_BACKOFF_SECONDS, BASE_BACKOFF_SECONDS * (2 ** max(0, attempt)))
    return (rng or random).uniform(ceiling / 2, ceiling)


def advised_delay(retry_after: str | None, attempt: int, now: datetime | None = None) -> float:
    """The wait before retrying an answer that may carry Retry-After (RFC 9110 §10.2.3)."""
    advised = parse_retry_after(retry_after, now)
    if advised is None:
        return backoff_delay(attempt) + DEFAULT_RETRY_AFTER_SECONDS
    return retry_after_delay(advised)


def classify(
    status: int,
    retry_after: str | None,
    body_excerpt: str = "",
    *,
    attempt: int = 0,
    now: datetime | None = None,
) -> Outcome:
    """Map a push-service answer (status 0: no answer) to what the engine does next."""
    reason = f"{status} {body_excerpt.strip()[:200]}".strip()
    if 200 <= status < 300:
        return Outcome(Verdict.ACCEPTED, status)
    if status in (404, 410):
        return Outcome(Verdict.GONE, status, reason)
    # 429 rate limit, 503 overload, and WNS's 406 "throttled" all carry Retry-After advice.
    if status in (429, 503, 406):
        return Outcome(Verdict.RETRY, status, reason, advised_delay(retry_after, attempt, now))
    if status == 0 or status >= 500 or status == 408:
        return Outcome(Verdict.RETRY, status, reason or "no answer", backoff_delay(attempt))
    # 400 bad request, 401/403 VAPID key or JWT problem, 413 payload too large: retrying
    # cannot help, and the operator needs the reason.
    return Outcome(Verdict.FAILED, status, reason)
