"""`pushgate send`: the admin API from a shell."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import click
import httpx

POLL_SECONDS = 0.5
FINAL_STATUSES = ("done", "failed", "cancelled")


def _request_body(values: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"title": values["title"]}
    for name in ("body", "url", "icon", "image", "ttl", "urgency", "topic", "send_at"):
        if values.get(name) is not None:
            body[name] = values[name]
    if values.get("local_time") is not None:
        body["deliver_at_local"] = values["local_time"]
    chosen = [n for n in ("tags", "external_ids", "segment", "filter_json") if values.get(n)]
    if len(chosen) > 1:
        raise click.UsageError("choose one audience: --tag, --external-id, --segment or --filter")
    if values.get("segment"):
        body["audience"] = {"segment": values["segment"]}
    elif values.get("filter_json"):
        body["audience"] = {"filter": _json_option(values["filter_json"], "--filter")}
    elif values.get("tags"):
        pairs = [t.partition("=") for t in values["tags"]]
        if any(not sep for _, sep, _ in pairs):
            raise click.BadParameter("--tag takes NAME=VALUE")
        body["audience"] = {"tags": {k: v for k, _, v in pairs}}
    elif values.get("external_ids"):
        body["audience"] = {"external_ids": list(values["external_ids"])}
    return body


def _json_option(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint=name) from exc


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
            if status.get("status") in FINAL_STATUSES:
                click.echo(json.dumps(status["counts"]))
                return 0
            time.sleep(POLL_SECONDS)
