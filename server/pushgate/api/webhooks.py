"""Incoming webhooks (issue #11): `/api/v1/webhooks` to manage them, `POST /hooks/{token}` for
a CMS, a CI job or anything that can POST JSON. The URL is the credential; with a secret the
body must also be signed (`X-Pushgate-Signature: sha256=<hex HMAC-SHA256 of the raw body>`).
The body renders the notification's templates as `payload`; a rendered `dedupe_key` makes a
retried call send once within DEDUPE_SECONDS."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pushgate.api.admin import authenticated_site
from pushgate.api.context import AppContext, context
from pushgate.api.definitions import MAX_DEDUPE_KEY_LENGTH, webhook_request
from pushgate.api.http import contain_unexpected, json_response, parse_json, read_body, read_json
from pushgate.api.notification_content import render_now
from pushgate.api.notification_service import create_rendered
from pushgate.api.render import iso
from pushgate.errors import ApiError
from pushgate.store.automation_models import Webhook
from pushgate.store.base import WebhookExists

MAX_DEFINITION_BYTES = 64 * 1024
MAX_HOOK_BODY_BYTES = 64 * 1024
DEDUPE_SECONDS = 7 * 24 * 3600
SIGNATURE_HEADER = "x-pushgate-signature"
TOKEN_BYTES = 32  # 256 bits: the URL cannot be guessed


def webhook_json(webhook: Webhook, ctx: AppContext) -> dict[str, Any]:
    return {
        "id": webhook.id,
        "name": webhook.name,
        "url": f"{ctx.settings.base_url}/hooks/{webhook.token}",
        "notification": webhook.notification,
        "dedupe_key": webhook.dedupe_key,
        "signed": webhook.secret is not None,  # the secret itself is never shown again
        "created_at": iso(webhook.created_at),
        "updated_at": iso(webhook.updated_at),
    }


async def create_webhook(request: Request) -> Response:
    site = await authenticated_site(request)
    ctx = context(request)
    checked = webhook_request(await read_json(request, MAX_DEFINITION_BYTES), ctx.events_url)
    now = ctx.clock()
    webhook = Webhook(
        id=uuid.uuid4().hex,
        site_id=site.id,
        name=checked["name"],
        token=secrets.token_urlsafe(TOKEN_BYTES),
        secret=checked.get("secret"),
        notification=checked["notification"],
        dedupe_key=checked["dedupe_key"],
        created_at=now,
        updated_at=now,
    )
    try:
        await ctx.store.create_webhook(webhook)
    except WebhookExists:
        raise ApiError("webhook_exists", f"the site has a webhook named {webhook.name!r}") from None
    return json_response(webhook_json(webhook, ctx), 201)


async def list_webhooks(request: Request) -> Response:
    site = await authenticated_site(request)
    ctx = context(request)
    hooks = await ctx.store.list_webhooks(site.id)
    return json_response({"data": [webhook_json(w, ctx) for w in hooks]})


async def _own_webhook(request: Request) -> tuple[Webhook, AppContext]:
    site = await authenticated_site(request)
    ctx = context(request)
    webhook = await ctx.store.get_webhook(site.id, request.path_params["webhook_id"])
    if webhook is None:
        raise ApiError("not_found", "no such webhook for this site")
    return webhook, ctx


async def get_webhook(request: Request) -> Response:
    webhook, ctx = await _own_webhook(request)
    return json_response(webhook_json(webhook, ctx))


async def replace_webhook(request: Request) -> Response:
    """A new name, notification and dedupe_key; the secret is kept unless given (null: none
    any more). The URL stays the same."""
    webhook, ctx = await _own_webhook(request)
    checked = webhook_request(await read_json(request, MAX_DEFINITION_BYTES), ctx.events_url)
    replaced = Webhook(
        id=webhook.id,
        site_id=webhook.site_id,
        name=checked["name"],
        token=webhook.token,
        secret=checked.get("secret", webhook.secret),
        notification=checked["notification"],
        dedupe_key=checked["dedupe_key"],
        created_at=webhook.created_at,
        updated_at=ctx.clock(),
    )
    try:
        stored = await ctx.store.replace_webhook(replaced)
    except WebhookExists:
        raise ApiError(
            "webhook_exists", f"the site has a webhook named {replaced.name!r}"
        ) from None
    if stored is None:
        raise ApiError("not_found", "no such webhook for this site")
    return json_response(webhook_json(stored, ctx))


async def delete_webhook(request: Request) -> Response:
    webhook, ctx = await _own_webhook(request)
    if not await ctx.store.delete_webhook(webhook.site_id, webhook.id):
        raise ApiError("not_found", "no such webhook for this site")
    return Response(status_code=204)


async def call_webhook(request: Request) -> Response:
    """`POST /hooks/{token}`: `202 {"notification_id"}`, or `200` with the first one's id
    when the rendered dedupe_key was seen within DEDUPE_SECONDS."""
    ctx = context(request)
    webhook = await ctx.store.webhook_by_token(request.path_params["token"])
    if webhook is None:
        raise ApiError("not_found", "no such webhook")
    raw = await read_body(request, MAX_HOOK_BODY_BYTES)
    if webhook.secret is not None:
        _check_signature(webhook.secret, raw, request.headers.get(SIGNATURE_HEADER))
    payload = parse_json(raw)
    if not isinstance(payload, dict):
        raise ApiError("invalid_request", "the webhook's body must be a JSON object")
    now = ctx.clock()
    variables = {"payload": payload}
    key = None
    if webhook.dedupe_key is not None:
        rendered = render_now(webhook.dedupe_key, variables, "dedupe_key", MAX_DEDUPE_KEY_LENGTH)
        if rendered:
            key = f"webhook:{webhook.id}:{hashlib.sha256(rendered.encode()).hexdigest()}"
    # Retries may differ in their bodies (a CMS adds a timestamp): the key alone decides.
    notification, created = await create_rendered(
        ctx, webhook.site_id, webhook.notification, variables,
        idempotency_key=key, request_hash=webhook.id, since=now - DEDUPE_SECONDS, now=now,
    )  # fmt: skip
    return json_response({"notification_id": notification.id}, 202 if created else 200)


def _check_signature(secret: str, raw: bytes, header: str | None) -> None:
    expected = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    given = (header or "").strip()
    scheme, _, digest = given.partition("=")
    # compare_digest on bytes: its time does not depend on where the two first differ.
    if scheme != "sha256" or not hmac.compare_digest(digest.encode(), expected.encode()):
        raise ApiError(
            "invalid_signature",
            "send X-Pushgate-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with "
            "the webhook's secret>",
        )


routes = contain_unexpected(
    [
        Route("/api/v1/webhooks", create_webhook, methods=["POST"]),
        Route("/api/v1/webhooks", list_webhooks, methods=["GET"]),
        Route("/api/v1/webhooks/{webhook_id}", get_webhook, methods=["GET"]),
        Route("/api/v1/webhooks/{webhook_id}", replace_webhook, methods=["PUT"]),
        Route("/api/v1/webhooks/{webhook_id}", delete_webhook, methods=["DELETE"]),
        Route("/hooks/{token}", call_webhook, methods=["POST"]),
    ]
)
