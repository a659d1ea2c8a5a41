"""The JSON the browser receives, also valid Declarative Web Push (`{"web_push": 8030, …}`).

The body differs per subscriber only in the event token, so it is rendered once as a
prefix and a suffix around the token, and joined per message in the encryption workers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pushgate.delivery.tokens import TOKEN_LENGTH

DECLARATIVE_WEB_PUSH_MAGIC = 8030
_TOKEN_PLACEHOLDER = "\x00TOKEN\x00"


@dataclass(frozen=True)
class PayloadTemplate:
    prefix: bytes
    suffix: bytes

    @property
    def size(self) -> int:
        """Plaintext bytes of every message rendered from this template."""
        return len(self.prefix) + TOKEN_LENGTH + len(self.suffix)

    def render(self, token: str) -> bytes:
        return self.prefix + token.encode("ascii") + self.suffix


def build_template(
    notification: dict[str, Any], notification_id: str, events_url: str
) -> PayloadTemplate:
    document = {
        "web_push": DECLARATIVE_WEB_PUSH_MAGIC,
        "notification": notification,
        "pushgate": {"id": notification_id, "token": _TOKEN_PLACEHOLDER, "events_url": events_url},
    }
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    encoded_placeholder = json.dumps(_TOKEN_PLACEHOLDER)[1:-1]
    # The last occurrence: `pushgate` is written after `notification`, whose strings may hold
    # the placeholder's characters too (`data` is free JSON).
    prefix, _, suffix = text.rpartition(encoded_placeholder)
    return PayloadTemplate(prefix.encode(), suffix.encode())
