"""The README's first command, as a new user runs it: `pushgate demo` starts the gateway and the
demo site, a browser subscribes there, and the printed `pushgate send` line makes a notification
appear. The only change from a real machine: Firefox's push service is the local one."""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect

from pushgate.testing import LocalPushService
from tests.browser.conftest import (
    REPO,
    STARTUP_TIMEOUT_SECONDS,
    artifact,
    child_env,
    eventually,
    free_port,
    wait_for_acks,
)
from tests.browser.test_firefox_end_to_end import shown_notifications


async def read_until(stream: asyncio.StreamReader, marker: str) -> list[str]:
    lines: list[str] = []
    while not any(marker in line for line in lines):
        line = (await stream.readline()).decode()
        if not line:
            pytest.fail("pushgate demo exited early:\n" + "".join(lines), pytrace=False)
        lines.append(line)
    return lines


async def test_pushgate_demo_then_printed_send_command_shows_a_notification(
    firefox: Browser, push_service: LocalPushService, tmp_path: Path
) -> None:
    port, demo_port = free_port(), free_port()
    env = child_env(
        PUSHGATE_DATABASE=f"sqlite:///{tmp_path / 'demo.db'}",
        PUSHGATE_ALLOWED_PUSH_HOSTS=push_service.host_port,
        PUSHGATE_ENCRYPT_WORKERS="1",
    )
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pushgate", "demo", "--port", str(port),
        "--demo-port", str(demo_port), cwd=REPO, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        assert demo.stdout is not None
        printed = await asyncio.wait_for(
            read_until(demo.stdout, "pushgate send"), STARTUP_TIMEOUT_SECONDS
        )
        text = "".join(printed)
        gateway_url, demo_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{demo_port}"
        assert f"pushgate gateway:  {gateway_url}" in text
        assert f"demo news site:    {demo_url}" in text
        curl_line = next(line for line in printed if line.strip().startswith("curl "))
        send_line = next(line for line in printed if line.strip().startswith("pushgate send"))

        context = await firefox.new_context()
        page = await context.new_page()
        await page.goto(demo_url + "/")
        await page.get_by_role("button", name="Get breaking news").click()
        await expect(page.get_by_role("button", name="Stop notifications")).to_be_visible(
            timeout=20_000
        )

        # The printed send command, run as printed (pushgate from this virtualenv).
        args = shlex.split(send_line.strip())
        result = subprocess.run(
            [sys.executable, "-m", "pushgate", *args[1:]],
            cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        assert await wait_for_acks(push_service, 1) == [100]
        shown = await eventually(lambda: shown_notifications(page), "the notification")
        assert [(n["title"], n["body"]) for n in shown] == [
            ("Breaking: pushgate works", "Your first notification.")
        ]
        assert shown[0]["data"]["url"] == demo_url + "/articles/one-line-push.html"
        await page.screenshot(path=artifact("demo-command-subscribed.png"), animations="disabled")

        # The printed curl line carries a working API key too.
        api_key = curl_line.split("Bearer ", 1)[1].split("'", 1)[0]
        async with httpx.AsyncClient(base_url=gateway_url, timeout=10) as client:
            response = await client.get(
                "/api/v1/subscriptions", headers={"Authorization": f"Bearer {api_key}"}
            )
        assert response.status_code == 200 and len(response.json()["data"]) == 1
        await context.close()
    finally:
        if demo.returncode is None:
            demo.terminate()
            try:
                await asyncio.wait_for(demo.wait(), 10)
            except TimeoutError:
                demo.kill()
                await demo.wait()
