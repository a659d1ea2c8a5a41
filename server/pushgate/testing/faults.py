"""Injected faults: answers a real push service gives when things go wrong (RFC 8030 §5, §8.4)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Fault:
    """Answer `status` instead of accepting the push.

    `times`: how many matching requests it applies to (None: until cleared). `endpoint_id`:
    the one endpoint it applies to (None: all). `retry_after`: the `Retry-After` value, seconds
    or an HTTP date. `delay`: seconds to wait before answering. A status below 300 only delays:
    the push is then validated and accepted as usual. `body` and `headers`: answer with this
    body and these headers (another push service's answer, as the quirk table knows it)
    instead of autopush's JSON error; a body starting with "{" is sent as JSON.
    """

    status: int = 410
    times: int | None = None
    endpoint_id: str | None = None
    retry_after: str | None = None
    delay: float = 0.0
    body: str | None = None
    headers: Mapping[str, str] | None = None

    @property
    def refuses(self) -> bool:
        return self.status >= 300

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        """Build from JSON fields; unknown fields and wrong types raise ValueError."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        fault = cls(**data)
        _check_types(fault)
        return fault


def _check_types(fault: Fault) -> None:
    if not isinstance(fault.status, int) or not 100 <= fault.status <= 599:
        raise ValueError("status must be an HTTP status code")
    if fault.times is not None and (not isinstance(fault.times, int) or fault.times < 1):
        raise ValueError("times must be a positive integer or null")
    if not isinstance(fault.delay, int | float) or fault.delay < 0:
        raise ValueError("delay must be a number of seconds >= 0")
    if fault.headers is not None and not (
        isinstance(fault.headers, Mapping)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in fault.headers.items())
    ):
        raise ValueError("headers must be an object of strings or null")
    for name in ("endpoint_id", "retry_after", "body"):
        if getattr(fault, name) is not None and not isinstance(getattr(fault, name), str):
            raise ValueError(f"{name} must be a string or null")


@dataclass
class _Active:
    fault: Fault
    remaining: int | None


class FaultPlan:
    """The faults in force, first injected first matched; each use spends one of `times`."""

    def __init__(self) -> None:
        self._active: list[_Active] = []

    def inject(self, fault: Fault) -> None:
        if fault.times is not None and fault.times < 1:
            raise ValueError("times must be a positive integer or None")
        self._active.append(_Active(fault, fault.times))

    def clear(self) -> None:
        self._active.clear()

    def take(self, endpoint_id: str) -> Fault | None:
        """The fault that applies to this request, if any, counting it as used."""
        for active in self._active:
            if active.fault.endpoint_id not in (None, endpoint_id):
                continue
            if active.remaining is not None:
                active.remaining -= 1
                if active.remaining == 0:
                    self._active.remove(active)
            return active.fault
        return None
