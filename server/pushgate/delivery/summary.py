"""What a run says in the log: one line per push service and reason, with a count, every so
often, instead of one line per message."""

from __future__ import annotations

import logging
import time
from collections import Counter

from pushgate.store.models import Notification
from pushgate.webpush.responses import Outcome, Verdict

log = logging.getLogger("pushgate.delivery")

SUMMARY_EVERY_SECONDS = 60.0  # how often a long broadcast logs what went wrong meanwhile


class ProblemSummary:
    """The answers other than accepted, grouped by (push service, short reason)."""

    def __init__(self, notification_id: str) -> None:
        self._id = notification_id
        self._problems: Counter[tuple[str, str]] = Counter()
        self._logged_at = time.monotonic()

    def add(self, service: str, outcome: Outcome) -> None:
        if outcome.verdict is not Verdict.ACCEPTED:
            self._problems[(service, reason_kind(outcome))] += 1
        if time.monotonic() - self._logged_at > SUMMARY_EVERY_SECONDS:
            self.log()

    def log(self) -> None:
        for (service, reason), count in sorted(self._problems.items()):
            level = logging.WARNING if reason.startswith("failed") else logging.INFO
            log.log(level, "notification %s: %s answered %s x%d", self._id, service, reason, count)
        self._problems.clear()
        self._logged_at = time.monotonic()


def describe(notification: Notification) -> str:
    audience = notification.audience.to_json()
    kind, value = next(iter(audience.items()))
    size = f"{len(value)} " if isinstance(value, list | dict) else ""
    return f"audience {size}{kind}, ttl {notification.ttl} s"


def reason_kind(outcome: Outcome) -> str:
    """A reason short enough to group by: the status and the first words of the answer."""
    if outcome.reason.startswith("TimeoutError"):
        return "timeout"
    words = " ".join(outcome.reason.split()[:6])
    return f"{outcome.verdict.value}: {words[:80]}" if words else outcome.verdict.value
