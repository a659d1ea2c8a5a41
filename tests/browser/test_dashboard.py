"""The dashboard in Debian's Chromium against the real gateway: log in, create a site, copy
its embed code; every page checked by axe-core (no serious or critical violation) and by its
own Content-Security-Policy (nothing blocked), and saved as a screenshot under
artifacts/browser/ to look at.

axe-core comes from the npm registry, installed once into artifacts/npm/ (git-ignored).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import ARTIFACTS, REPO, Gateway, artifact, child_env, csp_violations

AXE_VERSION = "4.14.1"
AXE_PREFIX = ARTIFACTS.parent / "npm"
AXE_JS = AXE_PREFIX / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "a long enough password"
BLOCKING_IMPACTS = ("serious", "critical")


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe.min.js from the npm package (installed on first use)."""
    if not AXE_JS.exists():
        AXE_PREFIX.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["npm", "install", "--prefix", str(AXE_PREFIX), "--no-audit", "--no-fund",
             f"axe-core@{AXE_VERSION}"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            pytest.fail(f"npm install axe-core failed:\n{done.stderr[-2000:]}", pytrace=False)
    return AXE_JS.read_text()


async def check_accessibility(page: Page, axe_source: str, name: str) -> None:
    """Run axe-core on the page (evaluated through the DevTools protocol, which the page's
    CSP does not govern) and fail on any serious or critical violation; save a screenshot."""
    await page.screenshot(path=artifact(f"dashboard-{name}.png"), full_page=True)
    await page.evaluate(axe_source)
    results = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    blocking = [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in results["violations"]
        if v["impact"] in BLOCKING_IMPACTS
    ]
    assert blocking == [], f"{name}: {json.dumps(blocking, indent=1)}"


def create_admin(gateway: Gateway, email: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pushgate", "users", "create", "--email", email, "--role", "admin",
         "--password-stdin", "--database", gateway.database],
        input=PASSWORD + "\n", cwd=REPO, env=child_env(), capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


async def test_admin_logs_in_creates_a_site_and_copies_its_embed_code(
    chromium: Browser, gateway: Gateway, axe_source: str
) -> None:
    create_admin(gateway, "admin@example.com")
    context = await chromium.new_context(viewport={"width": 1100, "height": 800})
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=gateway.url)
    page = await context.new_page()
    blocked = csp_violations(page)

    await page.goto(gateway.url + "/dashboard/")
    assert page.url == gateway.url + "/dashboard/login"  # no session: the login page
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    await check_accessibility(page, axe_source, "login")
    await page.get_by_label("Email").fill("admin@example.com")
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    await check_accessibility(page, axe_source, "login-failed")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()

    await expect(page.get_by_role("heading", name="Sites")).to_be_visible()
    await check_accessibility(page, axe_source, "sites-empty")
    await page.get_by_role("link", name="Create a site").click()
    await expect(page.get_by_role("heading", name="New site")).to_be_visible()
    await page.get_by_role("button", name="Create site").click()  # nothing filled in
    await expect(page.get_by_text("Enter a name for the site.")).to_be_visible()
    await check_accessibility(page, axe_source, "new-site-errors")
    await page.get_by_label("Name").fill("The Daily Relay")
    await page.get_by_label("Origins").fill("https://relay.example\nhttps://www.relay.example")
    await page.get_by_role("button", name="Create site").click()

    await expect(page.get_by_role("heading", name="The Daily Relay created")).to_be_visible()
    api_key = await page.locator("#api-key").text_content()
    site_id = await page.locator("#site-id").text_content()
    assert api_key and re.fullmatch(r"pgk_[\w-]{43}", api_key)
    assert site_id and re.fullmatch(r"[0-9a-f]{16}", site_id)
    await check_accessibility(page, axe_source, "site-created")

    await page.get_by_role("link", name="Go to the site's page").click()
    await expect(page.get_by_role("heading", name="The Daily Relay", exact=True)).to_be_visible()
    script_tag = (
        f'<script src="{gateway.url}/static/pushgate.js" data-site="{site_id}" async></script>'
    )
    worker_line = f'importScripts("{gateway.url}/sw/pushgate-sw.js");'
    assert (await page.locator("#embed-script").text_content() or "").startswith(script_tag)
    assert await page.locator("#embed-worker").text_content() == worker_line
    assert api_key not in await page.content()  # shown once only
    checks = await page.locator("#embed-checks li").all_text_contents()
    assert checks[0].startswith("Open https://relay.example/pushgate-sw.js")
    await page.get_by_role("button", name="Copy the worker line").click()
    await expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == worker_line
    await check_accessibility(page, axe_source, "site")

    await page.get_by_role("link", name="Sites", exact=True).click()
    row = page.get_by_role("row", name=re.compile("The Daily Relay"))
    await expect(row).to_contain_text("https://relay.example, https://www.relay.example")
    await check_accessibility(page, axe_source, "sites")
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert blocked == []  # the pages keep to their own Content-Security-Policy
    await context.close()
