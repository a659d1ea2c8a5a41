"""Chromium: the soft prompt shows the browser's prompt variant, reports `shown`, `dismissed`,
`accepted` and the browser's answer with that variant's id, and a reload keeps the variant; a
browser whose variant was removed chooses again; the dashboard's Prompt page shows what was
reported and passes axe-core (issue #12 part 6)."""

from __future__ import annotations

import json
from typing import Any

from playwright.async_api import Browser, Page, Request, expect

from pushgate.store import open_store
from tests.browser.conftest import Site, artifact, eventually
from tests.browser.test_dashboard import PASSWORD, axe_source, check_accessibility, create_admin

__all__ = ["axe_source"]  # the fixture, used here by name

VARIANTS = [
    {"id": "calm", "text": "A calm morning brief?", "accept": "Sure", "dismiss": "Maybe later"},
    {"id": "bold", "text": "BREAKING news, instantly?", "accept": "Yes!", "dismiss": "No thanks"},
]
EAGER = {"id": "eager", "text": "Hear it first?", "accept": "Tell me", "dismiss": "Never mind"}
# The browser's answer to the permission question, without a permission prompt in headless
# Chromium: requestPermission answers "granted" (the snippet then fails to subscribe offline,
# after it has reported the answer).
GRANT_JS = "Notification.requestPermission = () => Promise.resolve('granted');"


async def set_variants(site: Site, variants: list[dict[str, Any]]) -> None:
    async with site.admin() as client:
        answer = await client.patch("/api/v1/site", json={"prompt_variants": variants})
    assert answer.status_code == 200, answer.text


async def counted(site: Site, variant: str | None = None) -> dict[tuple[str, str], int]:
    """(variant, event) -> count, summed over days, as the gateway stored them."""
    async with open_store(site.gateway.database) as store:
        rows = await store.prompt_event_counts(site.id, "2000-01-01", "2100-01-01")
    totals: dict[tuple[str, str], int] = {}
    for row in rows if variant is None else [r for r in rows if r.variant_id == variant]:
        totals[(row.variant_id, row.event)] = totals.get((row.variant_id, row.event), 0) + row.count
    return totals


def record_reports(page: Page) -> list[dict[str, Any]]:
    reports: list[dict[str, Any]] = []

    def on_request(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/prompt-events"):
            reports.append(json.loads(request.post_data or "{}"))

    page.on("request", on_request)
    return reports


async def shown_variant(page: Page) -> dict[str, Any]:
    prompt = page.get_by_role("dialog")
    await expect(prompt).to_be_visible()
    variant_id = await page.locator("#pushgate-prompt").get_attribute("data-variant")
    variant = next(v for v in [*VARIANTS, EAGER] if v["id"] == variant_id)
    await expect(prompt).to_contain_text(variant["text"])
    await expect(prompt.get_by_role("button", name=variant["accept"])).to_be_visible()
    await expect(prompt.get_by_role("button", name=variant["dismiss"])).to_be_visible()
    return variant


async def test_variants_in_chromium_and_on_the_prompt_page(
    chromium: Browser, demo_site: Site, axe_source: str
) -> None:
    # One gateway and site for the module's three parts: the suite is near its time budget.
    await keeps_its_variant_and_reports_its_events(chromium, demo_site)
    await accepting_reports_accepted_and_the_browsers_answer(chromium, demo_site)
    await dashboard_shows(chromium, demo_site, axe_source)


async def keeps_its_variant_and_reports_its_events(chromium: Browser, demo_site: Site) -> None:
    await set_variants(demo_site, VARIANTS)
    context = await chromium.new_context()
    page = await context.new_page()
    reports = record_reports(page)
    await page.goto(demo_site.url + "/")
    variant = await shown_variant(page)
    await page.screenshot(path=artifact("chromium-prompt-variant.png"), animations="disabled")
    stored = f"JSON.parse(localStorage.getItem('pushgate:{demo_site.id}')).prompt_variant"
    assert await page.evaluate(stored) == variant["id"]

    # A reload keeps the variant; `shown` is reported once per page view.
    await page.reload()
    assert await shown_variant(page) == variant
    await page.get_by_role("dialog").get_by_role("button", name=variant["dismiss"]).click()
    await expect(page.get_by_role("dialog")).to_be_hidden()
    expected = {(variant["id"], "shown"): 2, (variant["id"], "dismissed"): 1}
    await eventually(lambda: _equal(counted(demo_site), expected), f"the counts {expected}")
    assert reports == [
        {"event": "shown", "variant": variant["id"]},
        {"event": "shown", "variant": variant["id"]},
        {"event": "dismissed", "variant": variant["id"]},
    ]

    # The site removes this browser's variant: it chooses again, among those left.
    other = next(v for v in VARIANTS if v is not variant)
    await set_variants(demo_site, [other])
    await page.reload()
    await page.evaluate("pushgate.showPrompt()")  # "Maybe later" snoozed the automatic one
    assert await shown_variant(page) == other
    assert await page.evaluate(stored) == other["id"]
    await context.close()


async def accepting_reports_accepted_and_the_browsers_answer(
    chromium: Browser, demo_site: Site
) -> None:
    await set_variants(demo_site, [EAGER])
    context = await chromium.new_context()
    await context.add_init_script(GRANT_JS)
    page = await context.new_page()
    reports = record_reports(page)
    await page.goto(demo_site.url + "/")
    variant = await shown_variant(page)
    await page.get_by_role("dialog").get_by_role("button", name=variant["accept"]).click()
    expected = {("eager", "shown"): 1, ("eager", "accepted"): 1, ("eager", "granted"): 1}
    await eventually(
        lambda: _equal(counted(demo_site, "eager"), expected), f"the counts {expected}"
    )
    assert [r["event"] for r in reports] == ["shown", "accepted", "granted"]
    assert {r["variant"] for r in reports} == {"eager"}
    await context.close()


async def dashboard_shows(chromium: Browser, site: Site, axe_source: str) -> None:
    """The operator's prompt page: the counts the browser reported, and the variants form."""
    create_admin(site.gateway, "prompt@example.com")
    context = await chromium.new_context(viewport={"width": 1100, "height": 800})
    page = await context.new_page()
    await page.goto(f"{site.gateway.url}/dashboard/sites/{site.id}/prompt")
    await page.get_by_label("Email").fill("prompt@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Opt-in per variant")).to_be_visible()
    cells = await page.locator("#variant-eager td").all_text_contents()
    assert cells[1:6] == ["1", "1", "0", "1", "0"] and cells[6] == "100.0 %"
    await expect(page.locator("#prompt-verdict")).to_have_text(
        "Add a second variant to compare opt-in rates."
    )
    await check_accessibility(page, axe_source, "prompt")
    await page.get_by_label("Weight").nth(1).fill("500")
    await page.get_by_label("Text").nth(1).fill("Another question?")
    await page.get_by_role("button", name="Save variants").click()
    await expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    await expect(page.locator("#variant-2-weight-error")).to_have_text("Must be from 1 to 100")
    await check_accessibility(page, axe_source, "prompt-errors")
    await page.get_by_label("Weight").nth(1).fill("20")
    await page.get_by_role("button", name="Save variants").click()
    await expect(page.get_by_role("status")).to_have_text("Prompt variants saved.")
    await expect(page.locator("#variant-a")).to_contain_text("Another question?")
    await context.close()


async def _equal(totals: Any, expected: dict[tuple[str, str], int]) -> bool:
    return bool(await totals == expected)
