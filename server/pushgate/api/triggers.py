"""Triggers (issue #11): `/api/v1/triggers`. A trigger starts a run when a tracked event
matches (`when`), performs its `action` after `delay` unless an `unless` event comes first;
automation/trigger_rules.py says exactly how, automation/trigger_engine.py runs them."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pushgate.api.admin import authenticated_site
from pushgate.api.context import AppContext, context
from pushgate.api.definitions import checked_definition
from pushgate.api.http import contain_unexpected, json_response, read_json
from pushgate.api.notification_content import template_variables
from pushgate.api.render import iso
from pushgate.api.validation import (
    checked_str,
    invalid,
    optional_bool,
    require_object,
    tag_changes_of,
)
from pushgate.automation.trigger_rules import RuleError, check_rule
from pushgate.content.sandbox import is_template
from pushgate.errors import ApiError
from pushgate.store.automation_models import Trigger
from pushgate.store.base import TriggerExists

MAX_DEFINITION_BYTES = 64 * 1024
MAX_NAME_LENGTH = 128
FIELDS = ("name", "when", "delay", "unless", "group_by", "action", "enabled")
RULE_FIELDS = ("when", "delay", "unless", "group_by", "action")


def trigger_json(trigger: Trigger) -> dict[str, Any]:
    d = trigger.definition
    return {
        "id": trigger.id,
        "name": trigger.name,
        **{name: d.get(name) for name in RULE_FIELDS},
        "enabled": trigger.enabled,
        "stats": {
            "fired": trigger.fired,
            "pending": trigger.pending,
            "cancelled": trigger.cancelled,
        },
        "created_at": iso(trigger.created_at),
        "updated_at": iso(trigger.updated_at),
    }


def trigger_request(body: Any, events_url: str) -> tuple[str, dict[str, Any], bool]:
    """(name, definition, enabled), checked."""
    data = require_object(body, "body")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise invalid(f"unknown member {unknown[0]!r}; a trigger takes {', '.join(FIELDS)}")
    name = checked_str(data.get("name"), "name", MAX_NAME_LENGTH)
    definition = {field: data[field] for field in RULE_FIELDS if data.get(field) is not None}
    try:
        check_rule(definition)
    except RuleError as exc:
        raise invalid(str(exc)) from None
    definition["action"] = _action(data.get("action"), events_url)
    enabled = optional_bool(data, "enabled")
    return name, definition, True if enabled is None else enabled


def _action(value: Any, events_url: str) -> dict[str, Any]:
    action = require_object(value, "action")
    if len(action) != 1 or next(iter(action)) not in ("send", "set_tags"):
        raise invalid('action must be {"send": {notification fields}} or {"set_tags": {...}}')
    if "send" in action:
        send = require_object(action["send"], "action.send")
        if "audience" in send:
            raise invalid("action.send takes no audience: it goes to the event's user")
        return {"send": checked_definition(send, events_url, "action.send")}
    tags = require_object(action["set_tags"], "action.set_tags")
    for name, source in tags.items():
        if isinstance(source, str) and is_template(source):
            used = template_variables(source, f"action.set_tags.{name}")
            if used - {"event"}:
                raise ApiError(
                    "invalid_template", f"action.set_tags.{name}: a tag's template reads event"
                )
    tag_changes_of(tags, "action.set_tags")
    if not tags:
        raise invalid("action.set_tags must name at least one tag")
    return {"set_tags": tags}


async def create_trigger(request: Request) -> Response:
    site = await authenticated_site(request)
    ctx = context(request)
    body = await read_json(request, MAX_DEFINITION_BYTES)
    name, definition, enabled = trigger_request(body, ctx.events_url)
    now = ctx.clock()
    trigger = Trigger(uuid.uuid4().hex, site.id, name, definition, enabled, now, now)
    try:
        await ctx.store.create_trigger(trigger)
    except TriggerExists:
        raise ApiError("trigger_exists", f"the site has a trigger named {name!r}") from None
    return json_response(trigger_json(trigger), 201)


async def list_triggers(request: Request) -> Response:
    site = await authenticated_site(request)
    triggers = await context(request).store.list_triggers(site.id)
    return json_response({"data": [trigger_json(t) for t in triggers]})


async def _own_trigger(request: Request) -> tuple[Trigger, AppContext]:
    site = await authenticated_site(request)
    ctx = context(request)
    trigger = await ctx.store.get_trigger(site.id, request.path_params["trigger_id"])
    if trigger is None:
        raise ApiError("not_found", "no such trigger for this site")
    return trigger, ctx


async def get_trigger(request: Request) -> Response:
    trigger, _ = await _own_trigger(request)
    return json_response(trigger_json(trigger))


async def replace_trigger(request: Request) -> Response:
    """A new definition; pending runs stay due as they were and perform the new action."""
    trigger, ctx = await _own_trigger(request)
    body = await read_json(request, MAX_DEFINITION_BYTES)
    name, definition, enabled = trigger_request(body, ctx.events_url)
    changed = Trigger(
        trigger.id, trigger.site_id, name, definition, enabled, trigger.created_at, ctx.clock()
    )
    try:
        stored = await ctx.store.replace_trigger(changed)
    except TriggerExists:
        raise ApiError("trigger_exists", f"the site has a trigger named {name!r}") from None
    if stored is None:
        raise ApiError("not_found", "no such trigger for this site")
    return json_response(trigger_json(stored))


async def delete_trigger(request: Request) -> Response:
    trigger, ctx = await _own_trigger(request)
    if not await ctx.store.delete_trigger(trigger.site_id, trigger.id):
        raise ApiError("not_found", "no such trigger for this site")
    return Response(status_code=204)


routes = contain_unexpected(
    [
        Route("/api/v1/triggers", create_trigger, methods=["POST"]),
        Route("/api/v1/triggers", list_triggers, methods=["GET"]),
        Route("/api/v1/triggers/{trigger_id}", get_trigger, methods=["GET"]),
        Route("/api/v1/triggers/{trigger_id}", replace_trigger, methods=["PUT"]),
        Route("/api/v1/triggers/{trigger_id}", delete_trigger, methods=["DELETE"]),
    ]
)
