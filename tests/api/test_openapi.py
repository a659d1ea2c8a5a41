"""/openapi.json describes exactly the app's routes; its body schemas agree with validation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from starlette.routing import Route

from pushgate.api.openapi import document
from pushgate.api.openapi_schemas import SCHEMAS
from pushgate.app import create_app
from pushgate.errors import ERROR_CODES
from tests.api.asgi import handler_settings, in_process
from tests.api.test_subscriptions import body as subscription_body


def test_documented_operations_are_the_app_routes(tmp_path: Path) -> None:
    app = create_app(handler_settings(tmp_path), deliver=False)
    served = {
        (re.sub(r":\w+}", "}", route.path), method.lower())  # "{id:path}" is "{id}" in OpenAPI
        for route in app.routes
        if isinstance(route, Route)  # the static Mounts are files, not API
        for method in route.methods or ()
        if method != "HEAD"  # Starlette answers HEAD wherever it answers GET
    }
    documented = {(path, method) for path, item in document()["paths"].items() for method in item}
    assert documented == served


async def test_openapi_json_is_served(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app:
        answer = await app.client.get("/openapi.json")
    assert answer.status_code == 200
    assert answer.json() == document() and answer.json()["openapi"].startswith("3.1")


def test_every_error_code_is_in_the_error_schema() -> None:
    codes = SCHEMAS["Error"]["properties"]["error"]["properties"]["code"]["enum"]
    assert set(codes) == set(ERROR_CODES)


def validator(name: str) -> Any:
    return jsonschema_rs.Draft202012Validator(SCHEMAS[name])


@pytest.mark.parametrize(
    ("name", "body", "valid"),
    [
        ("SubscriptionRequest", subscription_body(), True),
        ("SubscriptionRequest", subscription_body(tags={"a\n": "x"}), False),
        ("SubscriptionRequest", subscription_body(tags={"n": 5, "f": 0.5, "b": True}), True),
        ("SubscriptionRequest", subscription_body(tags={"n": None}), False),
        ("SubscriptionRequest", subscription_body(tags={"n": [1]}), False),
        ("SubscriptionPatch", {"tags": {"n": None, "b": False}, "timezone": None}, True),
        ("SubscriptionPatch", {"tag": {"n": 1}}, False),
        ("UserPatch", {"tags": {"n": None}}, True),
        ("UserPatch", {}, False),
        ("SubscriptionRequest", subscription_body(language="en\n"), False),
        ("SubscriptionRequest", subscription_body(external_id="x\u0000"), False),
        ("NotificationRequest", {"title": "t", "body": "two\nlines", "data": {"x": "\0"}}, True),
        ("NotificationRequest", {"title": "a\u0000b"}, False),
        ("NotificationRequest", {"title": "t", "ttl": 0}, False),
        ("NotificationRequest", {"title": "t", "ttl": True}, False),
        ("NotificationRequest", {"title": "t", "topic": "abcd"}, True),
        ("NotificationRequest", {"title": "t", "topic": "abcde"}, False),
        ("NotificationRequest", {"title": "t", "renotify": True}, False),
        ("NotificationRequest", {"title": "t", "renotify": True, "tag": "x"}, True),
        ("NotificationRequest", {"title": "t", "audience": {"all": True, "tags": {}}}, False),
        ("NotificationRequest", {"title": "t", "url": "javascript:alert(1)"}, False),
        ("EventRequest", {"token": "x", "type": "clicked"}, True),
        ("EventRequest", {"token": "x", "type": "opened"}, False),
    ],
)
def test_body_schemas_agree_with_the_validators(name: str, body: Any, valid: bool) -> None:
    assert validator(name).is_valid(body) is valid
