"""`pushgate send`: the admin API from a shell."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import click
import httpx

POLL_SECONDS = 0.5


def _request_body(values: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"title": values["title"]}
    for name in ("body", "url", "icon", "image", "ttl", "urgency", "topic"):
        if values.get(name) is not None:
            body[name] = values[name]
    if values.get("tags"):
        pairs = [t.partition("=") for t in values["tags"]]
        if any(not sep for _, sep, _ in pairs):
            raise click.BadParameter("--tag takes NAME=VALUE")
        body["audience"] = {"tags": {k: v for k, _, v in pairs}}
    elif values.get("external_ids"):
        body["audience"] = {"external_ids": list(values["external_ids"])}
    return body


def send_notification(values: dict[str, Any], gateway: str) -> int:
    headers = {"Authorization": f"Bearer {values['api_key']}", "Idempotency-Key": uuid.uuid4().hex}
    with httpx.Client(base_url=gateway.rstrip("/"), timeout=30) as client:
        answer = client.post("/api/v1/notifications", json=_request_body(values), headers=headers)
        if answer.status_code >= 400:
            click.echo(f"error: {answer.text}", err=True)
            return 1
        created = answer.json()
        click.echo(json.dumps(created))
        if not values.get("wait"):
            return 0
        while True:
            status = client.get(f"/api/v1/notifications/{created['id']}", headers=headers).json()
            if status.get("status") == "done":
                click.echo(json.dumps(status["counts"]))
                return 0
            time.sleep(POLL_SECONDS)
