"""What an operator does to a notification once it exists: cancel it (the API's
`POST /api/v1/notifications/{id}/cancel` and the dashboard's **Cancel**), and send it again
(the dashboard's **Send again**: a new notification, as `POST /api/v1/notifications` makes
one). One path to the store for both, so the API and the dashboard cannot drift apart."""

from __future__ import annotations

from dataclasses import fields

from pushgate.api.audience_checks import checked_audience
from pushgate.api.context import AppContext, announce
from pushgate.store.models import NewNotification, Notification

CANCELLABLE = ("scheduled", "queued", "sending")
MILLISECONDS = 1000
# What a new notification takes from the one sent again: everything it was made of but its
# identity and schedule (it goes now); an A/B test's settings too, when the model carries them.
_NOT_COPIED = frozenset({"idempotency_key", "request_hash", "idempotency_since", "send_at",
                         "deliver_at_local"})  # fmt: skip
_COPIED = tuple(f.name for f in fields(NewNotification) if f.name not in _NOT_COPIED)


async def cancel(ctx: AppContext, site_id: str, notification_id: str) -> Notification | None:
    """The notification after trying to cancel it (None: the site has no such notification):
    nothing not yet handed to a push service goes out; one not yet started targets nobody. Its
    status says whether it worked: `cancelled`, or what it was (done, failed: too late)."""
    notification = await ctx.store.cancel_notification(
        site_id, notification_id, from_statuses=CANCELLABLE
    )
    if notification is not None and notification.status == "cancelled":
        await announce(ctx, f"cancel:{notification.key}")
    return notification


async def send_again(ctx: AppContext, site_id: str, original: Notification) -> Notification:
    """A new notification with `original`'s content, audience and delivery options, sent now.
    The audience is checked again (a segment it names may have gone: 400 invalid_request)."""
    now = ctx.clock()
    values = {name: getattr(original, name) for name in _COPIED if hasattr(original, name)}
    payload = dict(original.payload)
    if "timestamp" in payload:  # the time the notification says it is from
        payload["timestamp"] = int(now * MILLISECONDS)
    values["payload"] = payload
    new = NewNotification(**values)
    await checked_audience(ctx.store, site_id, new.audience)
    notification, created = await ctx.store.create_notification(site_id, new, now=now)
    if created:
        await announce(ctx, "new")
    return notification
