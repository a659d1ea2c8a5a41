"""What the composer checks and sends, through the path of `POST /api/v1/notifications`
(api/admin.py): the form's body parsed by `parse_notification` (every validator of the API),
then stored and announced by `create_parsed` (api/notification_service.py). The payload's
size is measured by the builder the API measures with (`build_template`), and the audience
counted by the count route's `counted_audience`."""

from __future__ import annotations

from dataclasses import dataclass

from pushgate.api.context import AppContext
from pushgate.api.notification_content import MEMBER_FIELDS
from pushgate.api.notification_request import (
    ParsedNotification,
    parse_notification,
    payload_bytes_of,
)
from pushgate.api.notification_service import create_parsed
from pushgate.dashboard.compose_audience import (
    AudienceInvalid,
    Picked,
    picked_audience,
)
from pushgate.dashboard.compose_form import ComposeForm
from pushgate.errors import ApiError
from pushgate.store import IdempotencyConflict
from pushgate.store.models import Notification
from pushgate.webpush.encryption import MAX_PLAINTEXT_BYTES

TEST_FIELDS = ("variants", "ab_test")  # an A/B test's variants are measured too
CONFIRM_ABOVE = 1000  # a send to more subscribers than this asks for a confirmation first
# Checked one at a time after the first refusal, so that one Send shows every wrong field.
OWN_FIELDS = ("title", "body", "url", "icon", "image", "tag", "urgency", "ttl")
STAND_IN_TITLE = "t"  # beside another field checked alone


@dataclass
class Checked:
    form: ComposeForm
    picked: Picked | None = None
    parsed: ParsedNotification | None = None
    payload_bytes: int | None = None
    count: int | None = None

    @property
    def needs_confirmation(self) -> bool:
        return self.count is not None and self.count > CONFIRM_ABOVE


async def check(
    ctx: AppContext, site_id: str, form: ComposeForm, idempotency_key: str | None = None
) -> Checked:
    """The form judged by the API's rules: errors in `form.errors`, and what it would send."""
    checked = Checked(form, payload_bytes=payload_size(ctx, form))
    try:
        checked.picked = await picked_audience(ctx.store, site_id, form.values, ctx.clock())
        checked.count = checked.picked.count
    except AudienceInvalid as exc:
        form.errors.setdefault(exc.field, exc.message)
    if form.errors:
        _each_field(ctx, form)
        return checked
    body = form.body | {"audience": checked.picked.json if checked.picked else None}
    try:
        checked.parsed = parse_notification(body, idempotency_key, ctx.events_url, ctx.clock())
    except ApiError as exc:
        form.refuse(exc, _button_at_fault(ctx, form, exc))
        _each_field(ctx, form)
    return checked


def _each_field(ctx: AppContext, form: ComposeForm) -> None:
    """The API names only the first wrong field: check each of the notification's own fields
    alone too, so that the form shows all of them at once, not one per Send."""
    for name in OWN_FIELDS:
        if name in form.errors:
            continue
        if name == "title":
            probe = {"title": form.body["title"]} if "title" in form.body else {}
        elif name in form.body:
            probe = {"title": STAND_IN_TITLE, name: form.body[name]}
        else:
            continue
        try:
            parse_notification(probe, None, ctx.events_url, ctx.clock())
        except ApiError as exc:
            form.refuse(exc)


async def send(ctx: AppContext, site_id: str, checked: Checked) -> Notification | None:
    """Create the notification (None, with the form's error set, when it cannot be)."""
    assert checked.parsed is not None
    try:
        notification, _ = await create_parsed(ctx, site_id, checked.parsed, ctx.clock())
    except ApiError as exc:  # a segment deleted since the check
        checked.form.refuse(exc)
        return None
    except IdempotencyConflict:
        checked.form.errors["form"] = (
            "This form was sent already, with other content. Open the composer again to send "
            "another notification."
        )
        return None
    return notification


def payload_size(ctx: AppContext, form: ComposeForm) -> int | None:
    """The plaintext bytes of the largest push message the content makes (what the API
    checks against 3993), measured also past the limit; None while the content is invalid."""
    content = {k: v for k, v in form.body.items() if k in (*MEMBER_FIELDS, *TEST_FIELDS)}
    try:
        return parse_notification(content, None, ctx.events_url, ctx.clock()).payload_bytes
    except ApiError as exc:
        if exc.error.code != "payload_too_large":
            return None
    return payload_bytes_of(content, ctx.events_url)


def _button_at_fault(ctx: AppContext, form: ComposeForm, exc: ApiError) -> int | None:
    """Which action button (1-based) an ambiguous message ("url must be …") is about: the
    first whose button alone the API refuses; None when it is about the notification's own."""
    actions = form.body.get("actions") or []
    if exc.error.code == "payload_too_large" or not actions:
        return None
    own = {k: v for k, v in form.body.items() if k != "actions"}
    try:
        parse_notification(own, None, ctx.events_url, ctx.clock())
    except ApiError:
        return None  # the notification's own fields are at fault
    for index, action in enumerate(actions):
        try:
            parse_notification({"title": "t", "actions": [action]}, None, ctx.events_url)
        except ApiError:
            return form.action_fields[index]
    return None


LIMIT_BYTES = MAX_PLAINTEXT_BYTES
