"""The README's dashboard screenshots: `.venv/bin/python -m tests.browser.dashboard_screenshots`.

Starts a gateway on a test clock, the local push service and a CRM receiver on loopback, builds
the Daily Planet demo (tests/browser/demo_planet.py), and saves small PNGs of the dashboard's
pages from Debian's Chromium (device scale 1, a 1000-pixel-wide viewport, the top of each page)
into docs/screenshots/, and each whole page into artifacts/browser/readme-full-*.png. Nothing
leaves 127.0.0.1. Look at each one before committing it.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.async_api import Browser, Page, async_playwright, expect

from pushgate.clock import TEST_CLOCK_ENV, FileClock
from pushgate.dashboard.accounts import create_operator
from pushgate.store import open_store
from pushgate.testing import LocalPushService
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, REPO, artifact
from tests.browser.demo_planet import DAY_SECONDS, DAYS, ORIGIN, Planet, build, crm_receiver
from tests.conftest import NO_RATE_LIMITS, Gateway, free_port

OUT = REPO / "docs" / "screenshots"
WIDTH = 1000  # pixels, at device scale 1
EMAIL = "lois.lane@dailyplanet.example"
PASSWORD = "a demo password, long enough"
SITE_NAME = "Daily Planet"
START_HOUR_SECONDS = 9.5 * 3600  # each demo day begins at 09:30 UTC
HOOK_WAIT_SECONDS = 15.0
HOOK_RETRY_STEP_SECONDS = 10.0
MAX_BYTES = 150_000


def start_gateway(folder: Path, push: LocalPushService, hook_port: int) -> tuple[Gateway, Path]:
    today = time.time() // DAY_SECONDS * DAY_SECONDS
    clock_file = folder / "clock"
    FileClock.write(clock_file, today - (DAYS - 1) * DAY_SECONDS + START_HOUR_SECONDS)
    gateway = Gateway(
        database=f"sqlite:///{folder / 'pushgate.db'}",
        port=free_port(),
        allowed_push_hosts=push.host_port,
        extra_env={
            TEST_CLOCK_ENV: str(clock_file),
            "PUSHGATE_ALLOWED_HOOK_HOSTS": f"localhost:{hook_port}",
            **NO_RATE_LIMITS,
        },
    )
    gateway.start()
    return gateway, clock_file


async def shoot(page: Page, name: str, height: int) -> Path:
    await page.set_viewport_size({"width": WIDTH, "height": height})
    await page.evaluate("window.scrollTo(0, 0)")
    path = OUT / f"dashboard-{name}.png"
    await page.screenshot(path=str(path), animations="disabled", caret="hide")
    # The whole page too, git-ignored, to look over what the README's crop leaves out.
    await page.screenshot(path=artifact(f"readme-full-{name}.png"), full_page=True)
    return path


async def log_in(page: Page, base: str) -> None:
    await page.goto(base + "/dashboard/login")
    await page.get_by_label("Email").fill(EMAIL)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Sites")).to_be_visible()


async def screenshots(chromium: Browser, base: str, planet: Planet) -> list[Path]:
    context = await chromium.new_context(
        viewport={"width": WIDTH, "height": 600}, device_scale_factor=1
    )
    page = await context.new_page()
    site = f"{base}/dashboard/sites/{planet.id}"
    await page.goto(base + "/dashboard/login")
    await page.get_by_label("Email").fill(EMAIL)
    shots = [await shoot(page, "login", 470)]
    await log_in(page, base)
    shots.append(await shoot(page, "sites", 360))
    await page.goto(site)
    shots.append(await shoot(page, "site", 820))

    await page.goto(site + "/compose")
    await page.get_by_label("Title", exact=True).fill("Metropolis wins the cup!")
    await page.get_by_label("Body", exact=True).fill(
        "A last-minute header seals it. Read Jimmy Olsen's match report."
    )
    await page.get_by_label("URL", exact=True).fill(ORIGIN + "/sport/cup-final")
    await page.get_by_label("Button 1 label").fill("Read the report")
    await page.get_by_label("Tags", exact=True).check()
    await page.get_by_label("Tags to match").fill("section=sport")
    await expect(page.locator("#count-value")).to_have_text(str(await _sport(base, planet)))
    await expect(page.locator("#preview-android .title")).to_have_text("Metropolis wins the cup!")
    await page.locator("#title").focus()
    await page.locator("#title").blur()
    shots.append(await shoot(page, "compose", 860))

    await page.goto(f"{site}/notifications")
    shots.append(await shoot(page, "notifications", 560))
    await page.goto(f"{site}/notifications/{planet.sent['Metropolis wins the cup!']}")
    shots.append(await shoot(page, "notification", 900))
    await page.goto(f"{site}/subscribers")
    shots.append(await shoot(page, "subscribers", 900))
    await page.goto(f"{site}/prompt")
    shots.append(await shoot(page, "prompt", 900))
    await page.goto(f"{site}/event-hooks")
    shots.append(await shoot(page, "event-hooks", 760))
    await context.close()
    return shots


async def _sport(base: str, planet: Planet) -> int:
    async with httpx.AsyncClient(base_url=base, headers=planet.auth) as api:
        answer = await api.post(
            "/api/v1/audiences/count", json={"audience": {"tags": {"section": "sport"}}}
        )
    return int(answer.json()["count"])


async def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    hook_port = free_port()
    with tempfile.TemporaryDirectory(prefix="pushgate-screenshots-") as tmp:
        async with LocalPushService() as push, crm_receiver(hook_port) as answered:
            gateway, clock_file = start_gateway(Path(tmp), push, hook_port)
            try:
                created = gateway.create_site(name=SITE_NAME, origins=(ORIGIN,))
                planet = Planet(created["id"], created["api_key"])
                hook_url = f"http://localhost:{hook_port}/crm/pushgate-events"
                async with (
                    open_store(gateway.database) as store,
                    httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as api,
                ):
                    now = float(clock_file.read_text())
                    await create_operator(store, EMAIL, "admin", (), PASSWORD, now)
                    await build(api, store, push, planet, clock_file, hook_url)
                await _hook_settles(answered, clock_file)
                async with async_playwright() as playwright:
                    chromium = await playwright.chromium.launch(
                        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                    )
                    try:
                        shots = await screenshots(chromium, gateway.base_url, planet)
                    finally:
                        await chromium.close()
            finally:
                gateway.stop()
    too_big = 0
    for shot in shots:
        size = shot.stat().st_size
        too_big += size > MAX_BYTES
        print(f"{shot.relative_to(REPO)}  {size / 1000:.0f} kB")
    return 1 if too_big else 0


async def _hook_settles(answered: list[int], clock_file: Path) -> None:
    """Let the hook's dispatcher retry (its backoff runs on the test clock) until the CRM has
    taken a batch."""
    deadline = time.monotonic() + HOOK_WAIT_SECONDS
    while time.monotonic() < deadline and 200 not in answered:
        FileClock.write(clock_file, float(clock_file.read_text()) + HOOK_RETRY_STEP_SECONDS)
        await asyncio.sleep(0.5)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
