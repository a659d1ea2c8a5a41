"""The composer at /dashboard/sites/{id}/compose: the form with its previews, its payload size
and its audience count (also without JavaScript: the Preview button asks the server), a
confirmation page before a send to more than 1,000 subscribers, and the two JSON routes the
page's script calls as the operator types (session and X-CSRF-Token, like every POST here)."""

from __future__ import annotations

import json
import secrets
from typing import Any

from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from pushgate.api.context import context
from pushgate.content.ab_test import METRICS
from pushgate.dashboard import compose_audience as picker
from pushgate.dashboard.compose_form import (
    DEFAULT_TTL_TEXT,
    URGENCY_CHOICES,
    ComposeForm,
    empty_values,
    read_compose,
)
from pushgate.dashboard.compose_prefill import prefilled
from pushgate.dashboard.compose_send import LIMIT_BYTES, Checked, check, payload_size, send
from pushgate.dashboard.forms import read_form
from pushgate.dashboard.guard import operator_page
from pushgate.dashboard.navigation import see_other
from pushgate.dashboard.pages import render
from pushgate.dashboard.site_access import not_found_page, visible_site
from pushgate.store.models import Site
from pushgate.store.operator_rows import DashboardSession

MAX_SEGMENTS_LISTED = 1000
IDEMPOTENCY_FIELD = "send_key"  # one per form: a second click on Send sends nothing twice
_KEY_PREFIX = "dashboard-"


@operator_page
async def compose_page(request: Request, session: DashboardSession) -> Response:
    site = await visible_site(request, session)
    if site is None:
        return not_found_page(request, session)
    values, note = empty_values(site.default_timezone), ""
    source = request.query_params.get("from")
    if source:
        notification = await context(request).store.get_notification(site.id, source[:64])
        if notification is None:
            return not_found_page(request, session)
        values, note = prefilled(values, notification)
    form = read_compose_values(values, site)
    checked = await check(context(request), site.id, form)
    form.errors.clear()  # an empty form is not yet wrong
    return await _page(request, session, site, checked, note=note)


@operator_page
async def compose_submit(request: Request, session: DashboardSession) -> Response:
    """Preview (re-render), Send (check; confirm above 1,000; create; 303 to its page)."""
    site = await visible_site(request, session)
    if site is None:
        return not_found_page(request, session)
    ctx = context(request)
    raw = await read_form(request)
    form = read_compose(raw, site.default_timezone)
    key = _send_key(raw.get(IDEMPOTENCY_FIELD, ""))
    intent = raw.get("intent", "preview")
    checked = await check(ctx, site.id, form, key)
    if intent != "send" or form.errors or checked.parsed is None:
        status = 400 if intent == "send" and form.errors else 200
        return await _page(request, session, site, checked, status=status, send_key=key)
    if checked.needs_confirmation and raw.get("confirmed") != "yes":
        return _confirm_page(request, session, site, checked, raw)
    notification = await send(ctx, site.id, checked)
    if notification is None:
        return await _page(request, session, site, checked, status=400, send_key=key)
    return see_other(f"/dashboard/sites/{site.id}/notifications/{notification.id}")


@operator_page
async def size_json(request: Request, session: DashboardSession) -> Response:
    """The payload's bytes against the limit, as the composer's script shows them."""
    site = await visible_site(request, session)
    if site is None:
        return JSONResponse({"error": {"message": "not found"}}, 404)
    form = read_compose(await read_form(request), site.default_timezone)
    size = payload_size(context(request), form)
    return JSONResponse({"payload_bytes": size, "limit_bytes": LIMIT_BYTES})


@operator_page
async def count_json(request: Request, session: DashboardSession) -> Response:
    """How many subscriptions the picked audience holds now: the figure of `POST
    /api/v1/audiences/count`, for an operator's session instead of an API key."""
    site = await visible_site(request, session)
    if site is None:
        return JSONResponse({"error": {"message": "not found"}}, 404)
    ctx = context(request)
    form = read_compose(await read_form(request), site.default_timezone)
    try:
        picked = await picker.picked_audience(ctx.store, site.id, form.values, ctx.clock())
    except picker.AudienceInvalid as exc:
        return JSONResponse({"error": {"field": exc.field, "message": exc.message}}, 400)
    return JSONResponse({"count": picked.count, "audience": picked.json})


def read_compose_values(values: dict[str, str], site: Site) -> ComposeForm:
    """A ComposeForm from values already known (a new or prefilled form)."""
    return read_compose(ImmutableMultiDict(values), site.default_timezone)


def _send_key(presented: str) -> str:
    if presented.startswith(_KEY_PREFIX) and presented[len(_KEY_PREFIX) :].isalnum():
        return presented[:80]
    return _KEY_PREFIX + secrets.token_hex(16)


async def _page(
    request: Request,
    session: DashboardSession,
    site: Site,
    checked: Checked,
    *,
    status: int = 200,
    note: str = "",
    send_key: str | None = None,
) -> Response:
    segments, _ = await context(request).store.list_segments(
        site.id, limit=MAX_SEGMENTS_LISTED, after=""
    )
    return render(
        request,
        "compose.html",
        status,
        session=session,
        site=site,
        form=checked.form,
        v=checked.form.values,
        errors=checked.form.errors,
        payload_bytes=checked.payload_bytes,
        limit_bytes=LIMIT_BYTES,
        count=checked.count,
        segments=[s.name for s in segments],
        note=note,
        send_key=send_key or _send_key(""),
        **_choices(),
    )


def _confirm_page(
    request: Request,
    session: DashboardSession,
    site: Site,
    checked: Checked,
    raw: ImmutableMultiDict[str, str],
) -> Response:
    """The second step: the count, and the form's fields again behind a Confirm button."""
    kept = [(k, v) for k, v in raw.multi_items() if k not in ("csrf_token", "intent", "confirmed")]
    return render(
        request,
        "compose_confirm.html",
        session=session,
        site=site,
        count=checked.count,
        title=checked.form.values["title"],
        kept=kept,
        audience=_audience_text(checked),
        when=_when_text(checked),
    )


def _audience_text(checked: Checked) -> str:
    data: dict[str, Any] = checked.picked.json if checked.picked else {}
    if "tags" in data:
        return "Subscribers tagged " + ", ".join(f"{k}={v}" for k, v in data["tags"].items())
    if "segment" in data:
        return f"The segment {data['segment']}"
    if "filter" in data:
        return "The filter " + json.dumps(data["filter"], ensure_ascii=False)
    return "Everyone"


def _when_text(checked: Checked) -> str:
    body = checked.form.body
    if "send_at" in body:
        return f"At {body['send_at']}"
    if "deliver_at_local" in body:
        return f"At {body['deliver_at_local']} in each subscriber's time zone"
    return "Now"


def _choices() -> dict[str, Any]:
    return {
        "urgencies": URGENCY_CHOICES,
        "default_ttl": DEFAULT_TTL_TEXT,
        "filter_fields": picker.FILTER_FIELDS,
        "filter_ops": picker.FILTER_OPS,
        "filter_rows": range(1, picker.FILTER_ROWS + 1),
        "ab_metrics": METRICS,
    }


routes: list[BaseRoute] = [
    Route("/sites/{site_id}/compose", compose_page, methods=["GET"]),
    Route("/sites/{site_id}/compose", compose_submit, methods=["POST"]),
    Route("/sites/{site_id}/compose/size", size_json, methods=["POST"]),
    Route("/sites/{site_id}/compose/count", count_json, methods=["POST"]),
]
