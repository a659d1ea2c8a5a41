"""Parse a notification's scheduling options: `send_at`, `deliver_at_local`,
`throttle_per_minute`, `ignore_quiet_hours` and `ignore_frequency_cap` (issue #9 item 4)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pushgate.api.validation import invalid, optional_bool
from pushgate.scheduling.throttle import MAX_PER_MINUTE, MIN_PER_MINUTE

MAX_SCHEDULE_AHEAD_SECONDS = 30 * 86400  # send_at at most 30 days ahead
MAX_SCHEDULE_BEHIND_SECONDS = 60  # a send_at more than a minute past is a mistake, not "now"
CLOCK_PATTERN = "([01][0-9]|2[0-3]):[0-5][0-9]"
LOCAL_TIME = re.compile(rf"\A{CLOCK_PATTERN}\Z")
# RFC 3339 §5.6 date-time: an offset (Z or ±HH:MM) is required, a local time is refused.
RFC3339_PATTERN = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
RFC3339 = re.compile(rf"\A{RFC3339_PATTERN}\Z")


@dataclass(frozen=True)
class ScheduleOptions:
    send_at: float | None = None
    deliver_at_local: str | None = None
    throttle_per_minute: int | None = None
    ignore_quiet_hours: bool = False
    ignore_frequency_cap: bool = False


def schedule_options(data: dict[str, Any], now: float) -> ScheduleOptions:
    return ScheduleOptions(
        send_at=send_at_of(data.get("send_at"), now),
        deliver_at_local=local_time_of(data.get("deliver_at_local")),
        throttle_per_minute=throttle_of(data.get("throttle_per_minute")),
        ignore_quiet_hours=bool(optional_bool(data, "ignore_quiet_hours")),
        ignore_frequency_cap=bool(optional_bool(data, "ignore_frequency_cap")),
    )


def parse_rfc3339(value: Any) -> float | None:
    """Epoch seconds of an RFC 3339 date-time with an offset; None if it is not one."""
    if not isinstance(value, str) or not RFC3339.match(value):
        return None
    text = value.upper().replace("Z", "+00:00")
    # Python before 3.11 took at most 6 fraction digits; nanoseconds are kept to microseconds.
    text = re.sub(r"(\.[0-9]{6})[0-9]+", r"\1", text)
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:  # 2026-02-30, 24:00 or an offset of 25 hours
        return None


def send_at_of(value: Any, now: float) -> float | None:
    if value is None:
        return None
    at = parse_rfc3339(value)
    if at is None:
        raise invalid(
            f"send_at: {value!r} is not an RFC 3339 time with an offset, "
            'like "2026-12-24T18:00:00+01:00" or "2026-12-24T17:00:00Z"'
        )
    if at > now + MAX_SCHEDULE_AHEAD_SECONDS:
        raise invalid("send_at: at most 30 days ahead")
    if at < now - MAX_SCHEDULE_BEHIND_SECONDS:
        raise invalid("send_at: more than a minute in the past")
    return at


def local_time_of(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not LOCAL_TIME.match(value):
        raise invalid(f'deliver_at_local: must be a 24-hour time "HH:MM", not {value!r}')
    return value


def throttle_of(value: Any) -> int | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not MIN_PER_MINUTE <= value <= MAX_PER_MINUTE
    ):
        raise invalid(
            f"throttle_per_minute: must be a whole number from {MIN_PER_MINUTE} to "
            f"{MAX_PER_MINUTE:,}"
        )
    return value
