"""The composer's form: what the operator typed, turned into the very JSON body that `POST
/api/v1/notifications` takes (so that the API's own validators judge it), and each refusal
put beside the field it is about."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.datastructures import ImmutableMultiDict

from pushgate.api.notification_request import MAX_TTL_SECONDS, URGENCIES
from pushgate.content.fields import (
    MAX_ACTION_LENGTH,
    MAX_BODY_LENGTH,
    MAX_TAG_LENGTH,
    MAX_TITLE_LENGTH,
    MAX_URL_LENGTH,
)
from pushgate.dashboard import compose_ab as ab
from pushgate.dashboard.compose_audience import FILTER_ROWS
from pushgate.dashboard.forms import field as form_field
from pushgate.durations import DURATION, UNIT_SECONDS, describe
from pushgate.errors import ApiError

MAX_ACTIONS = 2
SHORT = 256  # the limit of a form field the API has no tighter one for
WHENS = ("now", "at", "local")
# Each field read at one character past the API's limit, so that the API's check (not a silent
# cut) tells the operator it is too long.
LIMITS = {
    "title": MAX_TITLE_LENGTH + 1,
    "body": MAX_BODY_LENGTH + 1,
    "url": MAX_URL_LENGTH + 1,
    "icon": MAX_URL_LENGTH + 1,
    "image": MAX_URL_LENGTH + 1,
    "tag": MAX_TAG_LENGTH + 1,
    "tags": 20_000,
    **{f"action{n}_title": MAX_ACTION_LENGTH + 1 for n in range(1, MAX_ACTIONS + 1)},
    **{f"action{n}_url": MAX_URL_LENGTH + 1 for n in range(1, MAX_ACTIONS + 1)},
    **ab.LIMITS,
}
CHOICE_FIELDS = ("urgency", "ttl", "audience", "segment", "filter_match", "when")
SCHEDULE_FIELDS = ("send_at", "send_at_zone", "local_time")
FILTER_FIELDS = tuple(
    f"filter{row}_{part}"
    for row in range(1, FILTER_ROWS + 1)
    for part in ("field", "tag", "op", "value")
)
NAMES = tuple(dict.fromkeys((*LIMITS, *CHOICE_FIELDS, *SCHEDULE_FIELDS, *FILTER_FIELDS, *ab.NAMES)))
TEXT_FIELDS = ("title", "body", "url", "icon", "image", "tag")
_MESSAGE_PATH = re.compile(r"\A([a-z_]+)(?:\[(\d+)\])?")
_DATETIME_LOCAL = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?\Z")
_API_FIELDS = {"deliver_at_local": "local_time", "navigate": "url"}


@dataclass
class ComposeForm:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)  # the API request, audience aside
    action_fields: list[int] = field(default_factory=list)  # actions[i] is button action_fields[i]

    def refuse(self, exc: ApiError, button: int | None = None) -> None:
        """Put the API's message beside the field it names (the top of the form otherwise);
        `button`: the action button (1-based) the message is known to be about."""
        self.errors.setdefault(self.field_of(exc, button), exc.message)

    def field_of(self, exc: ApiError, button: int | None = None) -> str:
        if exc.error.code == "payload_too_large":
            return "size"
        about_test = ab.ab_field_of(exc.message, ab.used_letters(self.values))
        if about_test is not None:
            return about_test
        found = _MESSAGE_PATH.match(exc.message)
        name = found[1] if found else ""
        if name == "actions" and button is None:
            index = int(found[2]) if found and found[2] else 0
            button = self.action_fields[index] if index < len(self.action_fields) else 1
        if button is not None:
            return f"action{button}_url" if name == "url" else f"action{button}_title"
        name = _API_FIELDS.get(name, name)
        return name if name in (*TEXT_FIELDS, "urgency", "ttl", "send_at", "local_time") else "form"


def empty_values(default_zone: str) -> dict[str, str]:
    values = dict.fromkeys(NAMES, "")
    values.update(audience="everyone", when="now", send_at_zone=default_zone, filter_match="all")
    values.update(ab.DEFAULTS)
    return values


def read_compose(form: ImmutableMultiDict[str, str], default_zone: str) -> ComposeForm:
    """The fields as typed and the request body they make; what the form itself can tell is
    wrong is in `errors` already, the API's checks come after (see compose_send)."""
    values = empty_values(default_zone)
    for name in NAMES:
        if name in form:
            values[name] = form_field(form, name, LIMITS.get(name, SHORT))
    if values["body"]:  # multi-line: keep its inner line breaks as typed
        values["body"] = form.get("body", "").strip()[: LIMITS["body"]]
    result = ComposeForm(values)
    result.body = _content(result) | _delivery(result) | _schedule(result)
    result.body |= ab.ab_body(values, result.errors)
    return result


def _content(form: ComposeForm) -> dict[str, Any]:
    values = form.values
    body: dict[str, Any] = {name: values[name] for name in TEXT_FIELDS if values[name]}
    actions = []
    for n in range(1, MAX_ACTIONS + 1):
        label, url = values[f"action{n}_title"], values[f"action{n}_url"]
        if label or url:
            action = {"action": f"button-{n}", "title": label or None, "url": url or None}
            actions.append({k: v for k, v in action.items() if v is not None})
            form.action_fields.append(n)
    if actions:
        body["actions"] = actions
    return body


def _delivery(form: ComposeForm) -> dict[str, Any]:
    body: dict[str, Any] = {}
    urgency = form.values["urgency"]
    if urgency:
        body["urgency"] = urgency  # the API refuses what is not one of URGENCIES
    ttl = form.values["ttl"]
    if ttl:
        seconds = ttl_seconds(ttl)
        if seconds is None:
            form.errors["ttl"] = "Write the TTL in seconds (3600) or as 30m, 12h, 7d."
        else:
            body["ttl"] = seconds
    return body


def ttl_seconds(text: str) -> int | None:
    """Seconds of "3600" or "1h"; None when it is neither (the API checks the range)."""
    if text.isascii() and text.isdigit() and len(text) <= 12:
        return int(text)
    found = DURATION.match(text)
    return int(found[1]) * UNIT_SECONDS[found[2]] if found else None


def _schedule(form: ComposeForm) -> dict[str, Any]:
    values = form.values
    when = values["when"] or "now"
    if when == "local":
        if not values["local_time"]:
            form.errors["local_time"] = "Choose the local time to deliver at, e.g. 09:00."
            return {}
        return {"deliver_at_local": values["local_time"]}
    if when != "at":
        return {}
    try:
        return {"send_at": send_at_text(values["send_at"], values["send_at_zone"])}
    except ValueError as exc:
        form.errors["send_at"] = str(exc)
        return {}


def send_at_text(local: str, zone: str) -> str:
    """An RFC 3339 time with its offset, from a datetime-local value read in `zone`."""
    if not local:
        raise ValueError("Choose the date and time to send at.")
    if not _DATETIME_LOCAL.match(local):
        raise ValueError("Write the date and time as 2026-12-24T18:00.")
    try:
        tz = zoneinfo.ZoneInfo(zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{zone!r} is not a time zone name such as Europe/Berlin.") from None
    try:
        moment = datetime.fromisoformat(local).replace(tzinfo=tz)
    except ValueError:
        raise ValueError("That date does not exist.") from None
    return moment.isoformat(timespec="seconds")


URGENCY_CHOICES = (("", "Default (normal)"), *((u, u) for u in URGENCIES))
DEFAULT_TTL_TEXT = describe(MAX_TTL_SECONDS)
