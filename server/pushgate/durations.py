"""Durations as the API writes them: a whole number and one unit, `s`, `m`, `h` or `d`
("10s", "5m", "1h", "7d"), used by feeds' intervals and triggers' delays."""

from __future__ import annotations

import re

DURATION = re.compile(r"\A([1-9][0-9]{0,6})([smhd])\Z")  # no sign, no leading zero, one unit
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class InvalidDuration(ValueError):
    pass


def duration_seconds(value: object, name: str, minimum: int, maximum: int) -> int:
    """Seconds of a duration; InvalidDuration naming `name` and the range otherwise."""
    match = DURATION.match(value) if isinstance(value, str) else None
    seconds = int(match[1]) * UNIT_SECONDS[match[2]] if match else -1
    if not minimum <= seconds <= maximum:
        raise InvalidDuration(
            f'{name} must be a whole number and s, m, h or d ("10s", "5m", "1h"), '
            f"from {describe(minimum)} to {describe(maximum)}"
        )
    return seconds


def describe(seconds: int) -> str:
    """The shortest exact way to write `seconds`: 86400 -> "1d", 90 -> "90s"."""
    for unit in ("d", "h", "m"):
        if seconds and seconds % UNIT_SECONDS[unit] == 0:
            return f"{seconds // UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"
