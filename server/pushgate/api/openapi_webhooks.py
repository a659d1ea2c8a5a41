"""OpenAPI paths and schemas of the webhooks routes (issue #11), merged into openapi.document()."""

from __future__ import annotations

from typing import Any

from pushgate.api.openapi_schemas import Schema

SCHEMAS: dict[str, Schema] = {}


def paths() -> dict[str, Any]:
    return {}
