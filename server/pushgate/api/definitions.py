"""A webhook's definition, checked when it is created or replaced: `{"name", "notification",
"secret"?, "dedupe_key"?}`; and any notification definition (a feed's too). Every template in
it must parse (`400 invalid_template` naming
the field and line), and the notification must be valid with each template standing for a
value of its field (an audience with templates is checked when a call renders it)."""

from __future__ import annotations

from typing import Any

from pushgate.api.notification_content import URL_PLACEHOLDER, template_variables
from pushgate.api.notification_request import notification_request
from pushgate.api.validation import checked_str, invalid, require_object
from pushgate.content.sandbox import is_template
from pushgate.errors import ApiError

MAX_NAME_LENGTH = 128
MIN_SECRET_LENGTH, MAX_SECRET_LENGTH = 16, 256
MAX_DEDUPE_KEY_LENGTH = 1024
FIELDS = ("name", "notification", "secret", "dedupe_key")
URL_NAMES = frozenset({"url", "icon", "image", "badge"})
STAND_INS = {"topic": "tmpl"}  # a valid topic: 1-32 base64url characters, length not 4n+1
TEXT_STAND_IN = "template"


def webhook_request(body: Any, events_url: str) -> dict[str, Any]:
    """The checked definition: name, notification, secret (None: unsigned; absent: not
    given), dedupe_key."""
    data = require_object(body, "body")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise invalid(f"unknown member {unknown[0]!r}; a webhook takes {', '.join(FIELDS)}")
    notification = checked_definition(data.get("notification"), events_url)
    checked = {
        "name": checked_str(data.get("name"), "name", MAX_NAME_LENGTH),
        "notification": notification,
        "dedupe_key": _dedupe_key(data.get("dedupe_key")),
    }
    if "secret" in data:
        checked["secret"] = _secret(data["secret"])
    return checked


def checked_definition(value: Any, events_url: str, name: str = "notification") -> dict[str, Any]:
    """A notification definition whose strings may be templates: every template parses, and
    the notification is valid with each template standing for a value of its field."""
    notification = require_object(value, name)
    _check_templates(notification, name)
    dry = _stand_ins(notification, "")
    if _has_template(notification.get("audience")):
        dry.pop("audience", None)
    try:
        notification_request(dry, None, events_url)
    except ApiError as exc:
        raise ApiError(exc.error.code, f"{name}: {exc.message}") from None
    return notification


def _dedupe_key(value: Any) -> str | None:
    if value is None:
        return None
    source = checked_str(value, "dedupe_key", MAX_DEDUPE_KEY_LENGTH)
    if is_template(source) and "subscriber" in template_variables(source, "dedupe_key"):
        raise ApiError("invalid_template", "dedupe_key: it cannot depend on subscriber")
    return source


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not MIN_SECRET_LENGTH <= len(value) <= MAX_SECRET_LENGTH:
        raise invalid(
            f"secret must be a string of {MIN_SECRET_LENGTH}-{MAX_SECRET_LENGTH} characters, "
            "or null for an unsigned webhook"
        )
    return checked_str(value, "secret", MAX_SECRET_LENGTH)


def _check_templates(value: Any, name: str) -> None:
    if isinstance(value, str) and is_template(value):
        template_variables(value, name)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_templates(item, f"{name}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_templates(item, f"{name}[{index}]")


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, dict):
        return any(_has_template(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_template(item) for item in value)
    return False


def _stand_ins(value: Any, key: str) -> Any:
    """A copy with each template replaced by a valid value of its field."""
    if isinstance(value, str) and is_template(value):
        if key in URL_NAMES:
            return URL_PLACEHOLDER
        return STAND_INS.get(key, TEXT_STAND_IN)
    if isinstance(value, dict):
        return {k: _stand_ins(item, k) for k, item in value.items()}
    if isinstance(value, list):
        return [_stand_ins(item, key) for item in value]
    return value
