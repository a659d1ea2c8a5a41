"""A site's delivery rules as they come in and go out: the default time zone, quiet hours and a
frequency cap, checked the same way for `PATCH /api/v1/site` and `pushgate sites update`.

Each refusal is an InvalidRule naming the path of the field (`quiet_hours.start`), so the API
answers it as a 400 and the CLI as a usage error, and nothing is written.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from typing import Any

from pushgate.store.models import PERIOD_UNIT_SECONDS, FrequencyCap, QuietHours, Site, SiteRules

DEFAULT_TIMEZONE = "UTC"
MIN_CAP, MAX_CAP = 1, 1000  # notifications per period; more than 1000 is no cap at all
MIN_PERIOD_SECONDS = 60  # "1m"
MAX_PERIOD_SECONDS = 30 * 86400  # "30d": as far ahead as a notification can be scheduled
MAX_TIMEZONE_LENGTH = 64
RULE_NAMES = ("default_timezone", "quiet_hours", "frequency_cap")
CLOCK_PATTERN = "([01][0-9]|2[0-3]):[0-5][0-9]"  # "HH:MM", 00:00-23:59
PERIOD_PATTERN = "([1-9][0-9]{0,5})([mhd])"  # no sign, no leading zero, one unit
CLOCK = re.compile(rf"\A{CLOCK_PATTERN}\Z")
PERIOD = re.compile(rf"\A{PERIOD_PATTERN}\Z")


class InvalidRule(ValueError):
    """A rule the site may not have; `path` names the offending field."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        super().__init__(f"{path} {problem}")


def site_rules_of(body: Any) -> SiteRules:
    """Parse a `PATCH /api/v1/site` body: any of the three rules; null clears one (the time
    zone back to UTC); an unknown member is refused, since it would otherwise change nothing."""
    if not isinstance(body, dict):
        raise InvalidRule("body", "must be a JSON object")
    _only(body, RULE_NAMES, "")
    return SiteRules(
        default_timezone=timezone_of(body.get("default_timezone")),
        quiet_hours=quiet_hours_of(body.get("quiet_hours")),
        frequency_cap=frequency_cap_of(body.get("frequency_cap")),
        given=frozenset(body),
    )


def timezone_of(value: Any, path: str = "default_timezone") -> str:
    if value is None:
        return DEFAULT_TIMEZONE
    # The list, not ZoneInfo(value): that opens any file under the zone folder a client names.
    if not isinstance(value, str) or len(value) > MAX_TIMEZONE_LENGTH or value not in _zones():
        raise InvalidRule(path, f"must be an IANA time zone name like Europe/Berlin, not {value!r}")
    return value


def quiet_hours_of(value: Any, path: str = "quiet_hours") -> QuietHours | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRule(path, 'must be null or {"start", "end", "allow_high_urgency"?}')
    _only(value, ("start", "end", "allow_high_urgency"), path)
    allow = value.get("allow_high_urgency", False)
    if not isinstance(allow, bool):
        raise InvalidRule(f"{path}.allow_high_urgency", "must be true or false")
    return _quiet_hours(value.get("start"), value.get("end"), allow, path)


def frequency_cap_of(value: Any, path: str = "frequency_cap") -> FrequencyCap | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRule(path, 'must be null or {"max", "period"}')
    _only(value, ("max", "period"), path)
    return _frequency_cap(value.get("max"), value.get("period"), path)


def quiet_hours_from_text(text: str, allow_high_urgency: bool = False) -> QuietHours:
    """`pushgate sites update --quiet-hours 22:00-08:00`."""
    start, dash, end = text.partition("-")
    if not dash:
        raise InvalidRule("--quiet-hours", f"must be START-END like 22:00-08:00, not {text!r}")
    return _quiet_hours(start, end, allow_high_urgency, "--quiet-hours")


def frequency_cap_from_text(text: str) -> FrequencyCap:
    """`pushgate sites update --frequency-cap 2/24h`."""
    count, slash, period = text.partition("/")
    if not slash or not count.isascii() or not count.isdigit():
        raise InvalidRule("--frequency-cap", f"must be MAX/PERIOD like 2/24h, not {text!r}")
    return _frequency_cap(int(count), period, "--frequency-cap")


def rules_json(site: Site) -> dict[str, Any]:
    """The site as `GET /api/v1/site` answers it."""
    return {
        "id": site.id,
        "name": site.name,
        "origins": list(site.origins),
        "vapid_public_key": site.vapid.public_key,
        "default_timezone": site.default_timezone,
        "quiet_hours": None if site.quiet_hours is None else site.quiet_hours.to_json(),
        "frequency_cap": None if site.frequency_cap is None else site.frequency_cap.to_json(),
    }


def _quiet_hours(start: Any, end: Any, allow: bool, path: str) -> QuietHours:
    for name, clock in (("start", start), ("end", end)):
        if not isinstance(clock, str) or not CLOCK.match(clock):
            raise InvalidRule(f"{path}.{name}", f'must be a 24-hour time "HH:MM", not {clock!r}')
    if start == end:
        # Equal times would mean either no quiet hours or a site that never sends: say which.
        raise InvalidRule(f"{path}.end", "must differ from start (clear quiet hours with null)")
    return QuietHours(start, end, allow)


def _frequency_cap(count: Any, period: Any, path: str) -> FrequencyCap:
    if isinstance(count, bool) or not isinstance(count, int) or not MIN_CAP <= count <= MAX_CAP:
        raise InvalidRule(f"{path}.max", f"must be a whole number from {MIN_CAP} to {MAX_CAP}")
    match = PERIOD.match(period) if isinstance(period, str) else None
    seconds = int(match[1]) * PERIOD_UNIT_SECONDS[match[2]] if match else 0
    if not MIN_PERIOD_SECONDS <= seconds <= MAX_PERIOD_SECONDS:
        raise InvalidRule(
            f"{path}.period", f'must be a number and m, h or d from "1m" to "30d", not {period!r}'
        )
    return FrequencyCap(count, period)


def _only(data: dict[str, Any], names: tuple[str, ...], path: str) -> None:
    unknown = sorted(set(data) - set(names))
    if unknown:
        where = f"{path}.{unknown[0]}" if path else unknown[0]
        raise InvalidRule(where, f"is not known; this takes {', '.join(names)}")


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())
