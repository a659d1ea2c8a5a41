"""Push endpoints: which simulated browser or WebSocket channel each `/push/{id}` reaches."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from pushgate.testing.browser import SimulatedBrowser
from pushgate.testing.replies import PushRejected

ENDPOINT_ID_BYTES = 24
ERRNO_INVALID_ENDPOINT = 102  # autopush: "Invalid URL endpoint" (404)
ERRNO_UNSUBSCRIBED = 106  # autopush: "Invalid subscription" (410)


@dataclass(frozen=True)
class Channel:
    """A subscription a WebSocket client (Firefox) registered: uaid, channelID and, when the
    page passed an applicationServerKey, the raw VAPID public key pushes must be signed with."""

    uaid: str
    channel_id: str
    key: bytes | None


Target = SimulatedBrowser | Channel


class Endpoints:
    """Live endpoints by id, and the ids that were unsubscribed (which answer 410 forever)."""

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url
        self._live: dict[str, Target] = {}
        self._gone: set[str] = set()

    def new_id(self) -> str:
        return secrets.token_urlsafe(ENDPOINT_ID_BYTES)

    def url(self, endpoint_id: str) -> str:
        return f"{self._base_url}/push/{endpoint_id}"

    def add(self, endpoint_id: str, target: Target) -> None:
        self._live[endpoint_id] = target

    def remove(self, endpoint_id: str) -> None:
        if self._live.pop(endpoint_id, None) is not None:
            self._gone.add(endpoint_id)

    def get(self, endpoint_id: str) -> Target:
        """The target, or PushRejected 410 (unsubscribed) / 404 (never existed)."""
        target = self._live.get(endpoint_id)
        if target is not None:
            return target
        if endpoint_id in self._gone:
            raise PushRejected(410, ERRNO_UNSUBSCRIBED, "subscription has been unsubscribed")
        raise PushRejected(404, ERRNO_INVALID_ENDPOINT, "no such subscription")
