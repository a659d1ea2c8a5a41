"""schemathesis runs every operation of /openapi.json: no 5xx, every 4xx in the error shape.

The app runs in-process (ASGI) on a temporary SQLite database with one real site, without a
delivery engine and without rate limits. Each generated request is sent twice: as generated
(an unknown site, a random origin, no API key), and on the real site with its origin and key,
so that the body reaches the validators. Hypothesis derandomized: the same requests on every run.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pushgate.api.openapi import document
from pushgate.app import create_app
from pushgate.settings import Settings
from pushgate.store import open_store
from tests.api.asgi import handler_settings
from tests.api.test_subscriptions import VALID_AUTH, VALID_P256DH
from tests.conftest import ORIGIN

EXAMPLES_PER_OPERATION = 50
CONFIG = SchemathesisConfig.from_dict({})  # defaults, not a schemathesis.toml found by chance


@dataclass(frozen=True)
class Target:
    schema: Any
    site_id: str
    api_key: str


async def _create_site(settings: Settings) -> tuple[str, str]:
    async with open_store(settings) as store:
        site, api_key = await store.create_site("fuzzed", [ORIGIN])
        return site.id, api_key


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    settings = handler_settings(tmp_path_factory.mktemp("fuzz"))
    site_id, api_key = asyncio.run(_create_site(settings))
    app = create_app(settings, deliver=False)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
    yield Target(schema, site_id, api_key)


ENDPOINT_NUMBERS = itertools.count()
OPERATIONS = [(path, method) for path, item in document()["paths"].items() for method in item]


def error_shape(ctx: Any, response: Any, case: Any) -> None:
    """Every 4xx and 5xx is `{"error": {"code", "message", "status"}}`, status as sent."""
    if response.status_code < 400:
        return
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "status"}, body
    assert body["error"]["status"] == response.status_code, body


def validate(case: Any) -> Any:
    answer = case.call()
    case.validate_response(answer, checks=CHECKS)
    return answer


def on_the_real_site(case: Any, target: Target) -> None:
    if "site_id" in case.path_parameters:
        case.path_parameters["site_id"] = target.site_id
    case.headers = {
        **(case.headers or {}),
        "Origin": ORIGIN,
        "Authorization": f"Bearer {target.api_key}",
    }


def with_a_real_endpoint(case: Any) -> bool:
    """Give a generated subscribe body an allowed endpoint and valid keys, if it has a place."""
    body = case.body if isinstance(case.body, dict) else {}
    subscription = body.get("subscription")
    if not case.path.endswith("/subscriptions") or not isinstance(subscription, dict):
        return False
    number = next(ENDPOINT_NUMBERS)
    subscription["endpoint"] = f"https://fcm.googleapis.com/fcm/send/fuzzed-{number}"
    subscription["keys"] = {"p256dh": VALID_P256DH, "auth": VALID_AUTH}
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    error_shape,
]


@pytest.mark.parametrize(
    ("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS]
)
def test_operation_answers_in_the_error_shape_and_never_5xx(
    target: Target, path: str, method: str
) -> None:
    operation = target.schema[path][method.upper()]
    cases = st.one_of([operation.as_strategy(generation_mode=mode) for mode in GenerationMode])

    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,  # the same requests on every run
        database=None,
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(cases)
    def run(case: Any) -> None:
        validate(case)  # as generated: an unknown site, a random origin, no API key
        on_the_real_site(case, target)
        answer = validate(case)
        if answer.status_code == 202 and path == "/api/v1/notifications":  # read it back
            read = target.schema["/api/v1/notifications/{notification_id}"]["GET"].Case(
                path_parameters={"notification_id": answer.json()["id"]},
                headers=case.headers,
            )
            assert validate(read).status_code == 200
        # A subscribe body with an allowed endpoint and keys goes on to tags, language...
        if with_a_real_endpoint(case) and validate(case).status_code in (200, 201):
            listing = target.schema["/api/v1/subscriptions"]["GET"].Case(
                query={"limit": 1000}, headers=case.headers
            )
            assert validate(listing).status_code == 200

    run()
