"""A webhook as a row, the same on both backends: the URL's token and the signing secret
sealed like VAPID keys (PUSHGATE_SECRET_KEY), the token's SHA-256 to find it by."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pushgate.store.automation_models import Webhook
from pushgate.store.sealing import Sealer

COLUMNS = "id, site_id, name, token, secret, definition, created_at, updated_at"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def row_values(w: Webhook, sealer: Sealer) -> tuple[object, ...]:
    """The values of COLUMNS, then the token's hash."""
    token, secret = sealer.seal(w.token), sealed_secret(w, sealer)
    values = (w.id, w.site_id, w.name, token, secret, definition(w), w.created_at, w.updated_at)
    return (*values, token_hash(w.token))


def sealed_secret(w: Webhook, sealer: Sealer) -> str | None:
    return None if w.secret is None else sealer.seal(w.secret)


def definition(w: Webhook) -> str:
    return json.dumps({"notification": w.notification, "dedupe_key": w.dedupe_key})


def webhook_from(row: Any, sealer: Sealer) -> Webhook:
    stored = json.loads(row["definition"])
    return Webhook(
        row["id"],
        row["site_id"],
        row["name"],
        sealer.unseal(row["token"]),
        None if row["secret"] is None else sealer.unseal(row["secret"]),
        stored["notification"],
        stored["dedupe_key"],
        row["created_at"],
        row["updated_at"],
    )
