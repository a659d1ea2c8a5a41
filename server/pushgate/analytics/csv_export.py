"""CSV exports of a site's notifications and subscribers, streamed page by page (a million
rows never sit in memory), with a header row, and safe to open in a spreadsheet: a cell that
starts with = + - @ (or a tab or carriage return) is prefixed with a quote, so that it is
shown as text instead of being run as a formula (CSV injection)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable, Sequence

from starlette.responses import Response, StreamingResponse

from pushgate.analytics.series import iso
from pushgate.store import Store

PAGE_ROWS = 1000  # rows read per store call while streaming
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

NOTIFICATION_COLUMNS = (
    "id", "created_at", "status", "title", "body", "url", "targeted", "accepted", "delivered",
    "clicked", "dismissed", "failed", "gone", "capped", "cancelled",
)  # fmt: skip
SUBSCRIBER_COLUMNS = (
    "id", "external_id", "created_at", "last_seen_at", "browser", "push_service", "language",
    "country", "timezone", "tags",
)  # fmt: skip


def csv_response(lines: AsyncIterator[str], filename: str) -> Response:
    """A streamed download: rows go out as they are read."""
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_lines(rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()


async def notifications_csv(store: Store, site_id: str) -> AsyncIterator[str]:
    """The site's notifications, oldest first, with their counters."""
    yield csv_lines([NOTIFICATION_COLUMNS])
    after: int | None = 0
    while after is not None:
        page, after = await store.list_notifications(
            site_id, status=None, limit=PAGE_ROWS, after=after
        )
        yield csv_lines(
            [
                n.id,
                iso(n.created_at),
                n.status,
                n.payload.get("title", ""),
                n.payload.get("body", ""),
                n.payload.get("navigate", ""),  # the API's "url", as the payload names it
                n.counts.targeted,
                n.counts.accepted,
                n.counts.delivered,
                n.counts.clicked,
                n.counts.dismissed,
                n.counts.failed,
                n.counts.gone,
                n.counts.capped,
                n.counts.cancelled,
            ]
            for n in page
        )


async def subscribers_csv(store: Store, site_id: str) -> AsyncIterator[str]:
    """The site's subscriptions in the order they came, tags as a JSON object."""
    yield csv_lines([SUBSCRIBER_COLUMNS])
    after: int | None = 0
    while after is not None:
        page, after = await store.search_subscribers(site_id, "", limit=PAGE_ROWS, after=after)
        yield csv_lines(
            [
                s.id,
                s.external_id,
                iso(s.created_at),
                iso(s.last_seen_at),
                s.browser,
                s.push_service,
                s.language,
                s.country,
                s.timezone,
                json.dumps(s.tags, ensure_ascii=False, sort_keys=True),
            ]
            for s in page
        )
