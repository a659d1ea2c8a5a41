"""Parse `POST /api/v1/notifications` into the payload, audience and delivery options."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pushgate.api.ab_request import ab_test_of
from pushgate.api.notification_content import (
    content_of,
    render_now,
    rendered_audience,
    template_variables,
)
from pushgate.api.schedule_options import schedule_options
from pushgate.api.validation import (
    audience_of,
    http_url,
    invalid,
    language_of,
    optional_bool,
    optional_str,
    require_object,
)
from pushgate.content.fields import (
    MAX_ACTION_LENGTH,
    MAX_BODY_LENGTH,
    MAX_TAG_LENGTH,
    MAX_TITLE_LENGTH,
)
from pushgate.content.sandbox import is_template
from pushgate.content.variants import Content
from pushgate.delivery.payload import build_template
from pushgate.errors import ApiError
from pushgate.store.models import NewNotification
from pushgate.webpush.encryption import MAX_PLAINTEXT_BYTES

DEFAULT_TTL_SECONDS = 28 * 24 * 3600  # 4 weeks; a TTL of 0 drops messages for offline browsers
MAX_TTL_SECONDS = DEFAULT_TTL_SECONDS
URGENCIES = ("very-low", "low", "normal", "high")  # RFC 8030 §5.3
MAX_ACTIONS = 2  # what Chrome and Firefox show (Notification.maxActions)
TOPIC = re.compile(r"\A[A-Za-z0-9_-]{1,32}\Z")  # RFC 8030 §5.4: base64url, at most 32
_NOTIFICATION_ID_EXAMPLE = "0" * 32


def validate_topic(value: Any) -> str | None:
    """RFC 8030 §5.4, plus Apple's rule that a base64url length of 4n+1 is impossible."""
    if value is None:
        return None
    if not isinstance(value, str) or not TOPIC.match(value) or len(value) % 4 == 1:
        raise ApiError(
            "invalid_topic",
            "topic must be 1-32 base64url characters (A-Z a-z 0-9 - _) whose length is not "
            "one more than a multiple of 4",
        )
    return value


def _actions(value: Any) -> list[dict[str, str]] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_ACTIONS:
        raise invalid(f"actions must be a list of at most {MAX_ACTIONS} buttons")
    actions = []
    for index, item in enumerate(value):
        data = require_object(item, f"actions[{index}]")
        action = optional_str(data, "action", MAX_ACTION_LENGTH)
        title = optional_str(data, "title", MAX_ACTION_LENGTH)
        if action is None or title is None:
            raise invalid(f"actions[{index}] needs action and title")
        entry = {"action": action, "title": title}
        if (url := http_url(data, "url")) is not None:
            entry["navigate"] = url
        actions.append(entry)
    return actions


def _notification_member(data: dict[str, Any], timestamp: int) -> dict[str, Any]:
    """The Declarative Web Push `notification` member; absent fields stay absent."""
    title = optional_str(data, "title", MAX_TITLE_LENGTH)
    if title is None:
        raise invalid("title is required")
    fields: dict[str, Any] = {
        "title": title,
        "body": optional_str(data, "body", MAX_BODY_LENGTH, multiline=True),
        "navigate": http_url(data, "url"),
        "icon": http_url(data, "icon"),
        "image": http_url(data, "image"),
        "badge": http_url(data, "badge"),
        "tag": optional_str(data, "tag", MAX_TAG_LENGTH),
        "lang": language_of(data, "lang"),
        "renotify": optional_bool(data, "renotify"),
        "require_interaction": optional_bool(data, "require_interaction"),
        "silent": optional_bool(data, "silent"),
        "actions": _actions(data.get("actions")),
        "data": data.get("data"),
        "timestamp": timestamp,
    }
    if fields["data"] is not None and not isinstance(fields["data"], dict):
        raise invalid("data must be a JSON object")
    if fields["renotify"] and not fields["tag"]:
        raise invalid("renotify needs a tag (browsers refuse renotify without one)")
    return {k: v for k, v in fields.items() if v is not None}


def _ttl(data: dict[str, Any]) -> int:
    ttl = data.get("ttl", DEFAULT_TTL_SECONDS)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL_SECONDS:
        raise invalid(f"ttl must be whole seconds from 1 to {MAX_TTL_SECONDS} (4 weeks)")
    return ttl


@dataclass(frozen=True)
class ParsedNotification:
    new: NewNotification
    payload_bytes: int  # the largest member's plaintext (templates as written)


def notification_request(
    body: Any,
    idempotency_key: str | None,
    events_url: str,
    now: float | None = None,
    variables: Mapping[str, Any] | None = None,
) -> NewNotification:
    """`now`: the scheduling clock's time, which `send_at` is checked against; `variables`:
    what templates may read besides `subscriber` (a webhook's `payload` ...)."""
    return parse_notification(body, idempotency_key, events_url, now, variables).new


def parse_notification(
    body: Any,
    idempotency_key: str | None,
    events_url: str,
    now: float | None = None,
    variables: Mapping[str, Any] | None = None,
) -> ParsedNotification:
    """notification_request's notification, with the size of its largest payload."""
    data = require_object(body, "body")
    variables = variables or {}
    schedule = schedule_options(data, time.time() if now is None else now)
    ab_test = ab_test_of(data)
    timestamp = int(time.time() * 1000)
    notification, content = content_of(
        data, variables, lambda fields: _notification_member(fields, timestamp)
    )
    urgency = data.get("urgency")
    if urgency is not None and urgency not in URGENCIES:
        raise invalid(f"urgency must be one of {', '.join(URGENCIES)}")
    payload_bytes = max(_checked_size(m, events_url) for m in _members(notification, content))
    audience = data.get("audience")
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    new = NewNotification(
        payload=notification,
        audience=audience_of(rendered_audience(audience, variables) if variables else audience),
        ttl=_ttl(data),
        urgency=urgency,
        topic=validate_topic(_topic(data.get("topic"), variables)),
        idempotency_key=idempotency_key,
        request_hash=hashlib.sha256(canonical.encode()).hexdigest(),
        send_at=schedule.send_at,
        deliver_at_local=schedule.deliver_at_local,
        throttle_per_minute=schedule.throttle_per_minute,
        ignore_quiet_hours=schedule.ignore_quiet_hours,
        ignore_frequency_cap=schedule.ignore_frequency_cap,
        content=content.to_json() if content.per_subscriber else None,
        ab_test=None if ab_test is None else ab_test.to_json(),
    )
    return ParsedNotification(new, payload_bytes)


def payload_bytes_of(body: Any, events_url: str) -> int:
    """The plaintext bytes of the largest message `body`'s content makes, as
    parse_notification measures it, but also past the limit it refuses (the dashboard's
    composer shows how far over it is); ApiError when a content field is invalid."""
    data = require_object(body, "body")
    timestamp = int(time.time() * 1000)
    notification, content = content_of(
        data, {}, lambda fields: _notification_member(fields, timestamp)
    )
    members = _members(notification, content)
    return max(build_template(m, _NOTIFICATION_ID_EXAMPLE, events_url).size for m in members)


def _members(notification: dict[str, Any], content: Content) -> list[dict[str, Any]]:
    """Every member a push message may carry: the default, each language's, each variant's."""
    return [notification, *content.localized.values(), *content.ab]


def _checked_size(member: dict[str, Any], events_url: str) -> int:
    """A member's payload must fit one message (with templates, as written: what they render
    to is checked per message)."""
    size = build_template(member, _NOTIFICATION_ID_EXAMPLE, events_url).size
    if size > MAX_PLAINTEXT_BYTES:
        raise ApiError(
            "payload_too_large",
            f"the push payload would be {size} bytes of plaintext; at most {MAX_PLAINTEXT_BYTES} "
            "fit in one Web Push message (shorten body, data or URLs)",
        )
    return size


def _topic(value: Any, variables: Mapping[str, Any]) -> Any:
    """A topic is a header of the whole notification: a template, but never per subscriber."""
    if not isinstance(value, str) or not is_template(value):
        return value
    if "subscriber" in template_variables(value, "topic"):
        raise ApiError("invalid_template", "topic: a topic cannot depend on subscriber")
    return render_now(value, variables, "topic", 32)
