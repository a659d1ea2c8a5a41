"""`pushgate send`, the admin API from a shell."""

from __future__ import annotations

import asyncio
import json
import os

import httpx

from pushgate.testing import LocalPushService
from tests.conftest import Site, pushgate_command, subscribe_all


async def test_send_command_reaches_the_tagged_audience_and_waits_for_counts(
    push_service: LocalPushService, site: Site, client: httpx.AsyncClient
) -> None:
    sports, tech = push_service.new_browser(), push_service.new_browser()
    await subscribe_all(client, site, [sports], tags={"topic": "sports"})
    await subscribe_all(client, site, [tech], tags={"topic": "tech"})
    process = await asyncio.create_subprocess_exec(
        *pushgate_command(
            "send",
            "--title",
            "Goal!",
            "--body",
            "1-0",
            "--url",
            "https://news.example/live",
            "--tag",
            "topic=sports",
            "--wait",
            "--gateway",
            site.gateway.base_url,
        ),
        env=os.environ | {"PUSHGATE_API_KEY": site.api_key},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    created, counts = (json.loads(line) for line in stdout.decode().splitlines())
    assert created["status"] == "queued" and counts["accepted"] == counts["targeted"] == 1
    payload = sports.messages[0].json()["notification"]
    assert (payload["title"], payload["body"], payload["navigate"]) == (
        "Goal!",
        "1-0",
        "https://news.example/live",
    )
    assert tech.messages == []


async def test_send_command_with_a_wrong_key_fails_with_the_error(site: Site) -> None:
    process = await asyncio.create_subprocess_exec(
        *pushgate_command(
            "send", "--title", "x", "--gateway", site.gateway.base_url, "--api-key", "pgk_wrong"
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1, stderr
    # One sentence saying what is wrong and what to do (issue #13), no traceback.
    assert stderr.decode().startswith("Error: the gateway refused the API key"), stderr
    assert "--api-key" in stderr.decode() and len(stderr.splitlines()) == 1, stderr
