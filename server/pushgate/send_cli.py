"""`pushgate send`: the admin API from a shell."""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import click
import httpx

from pushgate.cli_errors import CommandFailed
from pushgate.settings import DEFAULT_PORT

POLL_SECONDS = 0.5
FINAL_STATUSES = ("done", "failed", "cancelled")
NOTIFICATIONS = "/api/v1/notifications"
NO_MATCH = "no subscriber matched"
EXIT_NO_MATCH = 3  # the send worked but reached nobody: scripts can tell it from a failure


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


def gateway_url(given: str | None) -> str:
    """--gateway, else the public URL setting, else the default listening address; a URL
    without http:// or https:// is a usage error here, not httpx's traceback."""
    port = os.environ.get("PUSHGATE_PORT", "")
    fallback = f"http://127.0.0.1:{port if port.isdigit() else DEFAULT_PORT}"
    url = (given or os.environ.get("PUSHGATE_PUBLIC_URL") or fallback).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(
            f"{url!r} is not a URL like http://127.0.0.1:8080: put http:// or https:// in front",
            param_hint="--gateway",
        )
    return url


def send_notification(values: dict[str, Any], gateway: str) -> int:
    """Post the notification; print it (and with --wait its counts). The exit code: 0, or
    3 when --wait finds that no subscriber matched."""
    headers = {"Authorization": f"Bearer {values['api_key']}", "Idempotency-Key": uuid.uuid4().hex}
    body = _request_body(values)
    with httpx.Client(base_url=gateway, timeout=30) as client:
        created = _answer(client.post(NOTIFICATIONS, json=body, headers=headers), gateway)
        click.echo(json.dumps(created))
        for warning in created.get("warnings") or []:
            click.echo(f"warning: {warning.get('message')}", err=True)
        if not values.get("wait"):
            if created.get("targeted_estimate") == 0:
                click.echo(f"{NO_MATCH}: nothing will be sent unless someone joins", err=True)
            return 0
        final = _wait(client, gateway, f"{NOTIFICATIONS}/{created['id']}", headers)
    click.echo(json.dumps(final["counts"]))
    if final["status"] == "failed":
        click.echo(f"the notification failed: {final.get('error')}", err=True)
        return 1
    if final["status"] == "done" and final["counts"].get("targeted") == 0:
        click.echo(f"{NO_MATCH}: the site has no subscribers in this audience", err=True)
        return EXIT_NO_MATCH
    return 0


def _wait(client: httpx.Client, gateway: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    while True:
        status = _answer(client.get(path, headers=headers), gateway)
        if status.get("status") in FINAL_STATUSES:
            return status
        time.sleep(POLL_SECONDS)


def _answer(answer: httpx.Response, gateway: str) -> dict[str, Any]:
    """The JSON of a pushgate answer; anything else is a CommandFailed saying what to do."""
    try:
        data = answer.json()
    except ValueError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if answer.is_success and isinstance(data, dict) and "id" in data:
        return data
    if not isinstance(error, dict):
        raise CommandFailed(
            f"{gateway} does not answer as a pushgate gateway (HTTP {answer.status_code} "
            f"{answer.reason_phrase} to {answer.request.method} {answer.request.url.path}): "
            "check --gateway or PUSHGATE_GATEWAY"
        )
    code, message = error.get("code"), error.get("message")
    if answer.status_code == 401:
        raise CommandFailed(
            f"the gateway refused the API key ({message}): check --api-key or PUSHGATE_API_KEY "
            "(the key `pushgate sites create` printed for the site)"
        )
    if code == "not_found" and str(message).startswith("no route for "):  # at another base URL
        raise CommandFailed(
            f"{gateway} is a pushgate gateway, but not its base URL ({message}): give --gateway "
            "or PUSHGATE_GATEWAY without a path, as http://127.0.0.1:8080"
        )
    raise CommandFailed(f"the gateway refused the notification: {code}: {message}")
