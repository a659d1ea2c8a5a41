"""Every row a site owns, for `delete_site`: one list for both backends, which differ only in
how the site id is written (`?` or `$1`).

Children go first, so that the deletes do not lean on ON DELETE CASCADE alone: `events` has no
foreign key at all (a delivery's events outlive a gone subscriber), and a table added later
without a cascade would otherwise keep a deleted site's rows. tests/store/test_site_deletion.py
fails when a table that holds a site's rows is left out here.
"""

from __future__ import annotations

_OF_NOTIFICATIONS = "notification_key IN (SELECT key FROM notifications WHERE site_id = {id})"

SITE_DATA_DELETES = (
    f"DELETE FROM events WHERE {_OF_NOTIFICATIONS}",
    f"DELETE FROM deliveries WHERE {_OF_NOTIFICATIONS}",
    "DELETE FROM subscription_tags WHERE site_id = {id}",
    "DELETE FROM subscriber_rollups WHERE site_id = {id}",
    "DELETE FROM delivery_rollups WHERE site_id = {id}",
    "DELETE FROM subscriber_breakdowns WHERE site_id = {id}",
    "DELETE FROM trigger_runs WHERE trigger_id IN (SELECT id FROM triggers WHERE site_id = {id})",
    "DELETE FROM feed_entries WHERE feed_id IN (SELECT id FROM feeds WHERE site_id = {id})",
    "DELETE FROM tracked_events WHERE site_id = {id}",
    "DELETE FROM triggers WHERE site_id = {id}",
    "DELETE FROM feeds WHERE site_id = {id}",
    "DELETE FROM webhooks WHERE site_id = {id}",
    "DELETE FROM segments WHERE site_id = {id}",
    "DELETE FROM notifications WHERE site_id = {id}",
    "DELETE FROM subscriptions WHERE site_id = {id}",
    "DELETE FROM api_keys WHERE site_id = {id}",
    "DELETE FROM operator_sites WHERE site_id = {id}",
    "DELETE FROM prompt_event_counts WHERE site_id = {id}",
    "DELETE FROM prompt_variants WHERE site_id = {id}",
    "DELETE FROM event_hook_outbox WHERE hook_id IN "
    "(SELECT id FROM event_hooks WHERE site_id = {id})",
    "DELETE FROM event_hook_attempts WHERE hook_id IN "
    "(SELECT id FROM event_hooks WHERE site_id = {id})",
    "DELETE FROM event_hooks WHERE site_id = {id}",
)
SITE_DELETE = "DELETE FROM sites WHERE id = {id}"


def site_deletes(placeholder: str) -> tuple[str, ...]:
    """The statements, the site's own row last, with `placeholder` for its id."""
    return tuple(sql.format(id=placeholder) for sql in (*SITE_DATA_DELETES, SITE_DELETE))
