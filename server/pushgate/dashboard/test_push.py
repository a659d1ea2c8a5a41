""" "Send a test to me": the operator's own browser subscribes to a site from the dashboard (its
subscription stored through the subscription rules the snippet's route uses, endpoint allowlist
included, marked with the external id `operator:<operator id>`), and a button sends a short
notification to exactly those subscriptions through the API's notification path."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from pushgate.api.audience_checks import checked_audience
from pushgate.api.context import announce, context
from pushgate.api.http import read_json
from pushgate.api.notification_request import parse_notification
from pushgate.api.validation import require_object, subscription_request
from pushgate.audience.fields import browser_of
from pushgate.dashboard.guard import operator_page
from pushgate.dashboard.navigation import see_other
from pushgate.dashboard.site_access import not_found_page, visible_site
from pushgate.errors import ApiError
from pushgate.store.base import SubscriptionLimitReached
from pushgate.store.models import Audience
from pushgate.store.operator_rows import DashboardSession, Operator

MAX_SUBSCRIPTION_BODY_BYTES = 4 * 1024  # a PushSubscription's JSON is about 500 bytes
TEST_TITLE = "Test from pushgate"


def operator_external_id(operator: Operator) -> str:
    """The external id that marks a subscription as this operator's own browser."""
    return f"operator:{operator.id}"


@operator_page
async def subscribe_operator(request: Request, session: DashboardSession) -> Response:
    """POST {"subscription": PushSubscription.toJSON()} with the X-CSRF-Token header (from
    dashboard/static/test_push.js): stored as a subscriber of the site, the operator's own."""
    site = await visible_site(request, session)
    if site is None:
        return JSONResponse({"error": "not_found", "message": "no such site"}, 404)
    ctx = context(request)
    try:
        body = require_object(await read_json(request, MAX_SUBSCRIPTION_BODY_BYTES), "body")
        new = subscription_request(
            {"subscription": body.get("subscription"), "external_id": _external(session)},
            ctx.policy,
            browser_of(request.headers.get("user-agent", "")),
        )
        subscription, _ = await ctx.store.upsert_subscription(
            site.id, new, max_subscriptions=ctx.settings.max_subscriptions_per_site
        )
    except ApiError as exc:
        return JSONResponse({"error": exc.error.code, "message": exc.message}, exc.status)
    except SubscriptionLimitReached:
        message = "the site holds as many subscriptions as it may"
        return JSONResponse({"error": "subscription_limit", "message": message}, 409)
    mine = await operator_browsers(request, session, site.id)
    return JSONResponse({"id": subscription.id, "browsers": mine}, 201)


@operator_page
async def send_test(request: Request, session: DashboardSession) -> Response:
    """A short notification to this operator's subscriptions of the site, and nobody else's."""
    site = await visible_site(request, session)
    if site is None:
        return not_found_page(request, session)
    ctx = context(request)
    mine = await operator_browsers(request, session, site.id)
    if mine:
        now = ctx.clock()
        body = {
            "title": TEST_TITLE,
            "body": f"{site.name}: a test sent by {session.operator.email} from the dashboard.",
            "audience": {"external_ids": [_external(session)]},
            "url": f"{ctx.settings.base_url}/dashboard/sites/{site.id}",
            # Asked for now, by the person it goes to: the site's quiet hours and cap are for
            # its readers, and would hold or drop the test without saying so.
            "ignore_quiet_hours": True,
            "ignore_frequency_cap": True,
        }
        parsed = parse_notification(body, None, ctx.events_url, now)
        await checked_audience(ctx.store, site.id, parsed.new.audience)
        _, created = await ctx.store.create_notification(site.id, parsed.new, now=now)
        if created:
            await announce(ctx, "new")
    return see_other(f"/dashboard/sites/{site.id}?test_sent={mine}#test-push")


async def operator_browsers(request: Request, session: DashboardSession, site_id: str) -> int:
    """How many of this operator's browsers are subscribed to the site."""
    ctx = context(request)
    audience = Audience(external_ids=(_external(session),))
    return await ctx.store.count_audience(site_id, audience, ctx.clock())


def _external(session: DashboardSession) -> str:
    return operator_external_id(session.operator)


routes: list[BaseRoute] = [
    Route("/sites/{site_id}/test-subscription", subscribe_operator, methods=["POST"]),
    Route("/sites/{site_id}/send-test", send_test, methods=["POST"]),
]
