"""The event hooks page in Debian's Chromium against the real gateway: add a hook (the secret
generated and shown once), watch its attempts as a local receiver first answers 500 and then
takes the batch after the backoff, a bad URL refused beside the form, and Delete. Every state
is checked by axe-core (no serious or critical violation) and its Content-Security-Policy, and
saved as a screenshot under artifacts/browser/."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from pushgate.testing import LocalPushService
from tests.api.test_subscriptions import FCM, VALID_AUTH, VALID_P256DH
from tests.browser.conftest import Gateway, child_env, csp_violations, free_port, start_process
from tests.browser.test_dashboard import axe_source as axe_source  # the fixture, shared
from tests.browser.test_dashboard import check_accessibility, create_admin
from tests.browser.test_dashboard_settings import log_in
from tests.gateway.hook_receiver import hook_receiver

RECEIVER_PORT = free_port()
BACKOFF_SECONDS = 5  # the dispatcher's first backoff, on the real clock here


@pytest.fixture
def gateway(
    push_service: LocalPushService, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Gateway]:
    """The browser tests' gateway, with the receiver's host:port allowed for hooks."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database = f"sqlite:///{tmp_path / 'pushgate.db'}"
    env = child_env(
        PUSHGATE_HOST="127.0.0.1", PUSHGATE_PORT=str(port), PUSHGATE_DATABASE=database,
        PUSHGATE_PUBLIC_URL=url, PUSHGATE_VAPID_SUBJECT="mailto:ops@example.com",
        PUSHGATE_ALLOWED_PUSH_HOSTS=push_service.host_port, PUSHGATE_ENCRYPT_WORKERS="1",
        PUSHGATE_ALLOWED_HOOK_HOSTS=f"127.0.0.1:{RECEIVER_PORT}",
    )  # fmt: skip
    process = start_process(
        f"{request.node.name}.gateway", [sys.executable, "-m", "pushgate", "serve"], env,
        f"{url}/healthz",
    )  # fmt: skip
    try:
        yield Gateway(url, database, process)
    finally:
        process.stop()


async def test_event_hooks_page(chromium: Browser, gateway: Gateway, axe_source: str) -> None:
    create_admin(gateway, "hooks@example.com")
    site = gateway.create_site("The Morning Wire", ["https://morning-wire.example"])
    context = await chromium.new_context(viewport={"width": 1100, "height": 800})
    page = await context.new_page()
    blocked = csp_violations(page)
    await log_in(page, gateway, "hooks@example.com")
    await page.goto(f"{gateway.url}/dashboard/sites/{site['id']}")
    await page.get_by_role("link", name="Event hooks").click()
    await expect(page.get_by_role("heading", name="The Morning Wire: event hooks")).to_be_visible()
    await expect(page.locator("#no-hooks")).to_be_visible()
    await check_accessibility(page, axe_source, "hooks-empty")

    await page.get_by_label("URL").fill("https://10.0.0.5/in")
    await page.get_by_role("button", name="Add hook").click()
    await expect(page.get_by_role("alert")).to_contain_text("non-public address")
    await check_accessibility(page, axe_source, "hooks-refused")

    await page.get_by_label("URL").fill(f"http://127.0.0.1:{RECEIVER_PORT}/in")
    await page.get_by_label("sent:").uncheck()
    await page.get_by_role("button", name="Add hook").click()
    secret = (await page.locator("#hook-secret").text_content() or "").strip()
    assert len(secret) >= 40
    await check_accessibility(page, axe_source, "hook-created")

    async with hook_receiver(secret, RECEIVER_PORT) as receiver:
        receiver.fail_next = 1
        async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
            keys = {"p256dh": VALID_P256DH, "auth": VALID_AUTH}
            body = {"subscription": {"endpoint": f"{FCM}-browser-hooks", "keys": keys}}
            answer = await client.post(
                f"/v1/sites/{site['id']}/subscriptions", json=body,
                headers={"Origin": "https://morning-wire.example"},
            )  # fmt: skip
            assert answer.status_code == 201, answer.text
        for _ in range(50):  # the first attempt, within 5 s
            if receiver.requests:
                break
            await page.wait_for_timeout(100)
        await page.get_by_role("link", name="Back to the site's event hooks").click()
        await shows_rows(page, "tr.failed")  # the attempt is written once its answer is in
        await expect(page.get_by_text("Failing", exact=True)).to_be_visible()
        await check_accessibility(page, axe_source, "hooks-failing")
        for _ in range(BACKOFF_SECONDS * 4):  # the retry after the backoff
            if receiver.taken:
                break
            await page.wait_for_timeout(500)
        assert len(receiver.taken) == 1 and all(r["signed"] for r in receiver.requests)
    await shows_rows(page, "tr.ok")
    await expect(page.locator("tr.ok td").nth(1)).to_have_text("200 OK")
    await check_accessibility(page, axe_source, "hooks-attempts")
    assert secret not in await page.content()

    await page.get_by_role(
        "button", name=f"Delete the hook to http://127.0.0.1:{RECEIVER_PORT}/in"
    ).click()
    await expect(page.get_by_role("status")).to_contain_text("Hook deleted")
    await expect(page.locator("#no-hooks")).to_be_visible()
    await check_accessibility(page, axe_source, "hooks-deleted")
    assert blocked == []
    await context.close()


async def shows_rows(page: Page, selector: str, seconds: float = 5.0) -> None:
    """Reload `page` until it shows exactly one `selector` row (within `seconds`)."""
    for _ in range(int(seconds * 10)):
        if await page.locator(selector).count() == 1:
            return
        await page.wait_for_timeout(100)
        await page.reload()
    await expect(page.locator(selector)).to_have_count(1)
