"""The home page and /docs/ in Debian's Chromium, on a phone's viewport and a desktop's: styled by
the stylesheet file under the pages' CSP (which Chromium would report if anything broke it), no
sideways scrolling, links that lead where they say. Screenshots go to artifacts/browser/."""

from __future__ import annotations

from playwright.async_api import Browser, ConsoleMessage, Page, Response

from tests.browser.conftest import Gateway, artifact

VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


async def looks_right(page: Page) -> None:
    """Styled (the stylesheet loaded), the icon drawn, nothing wider than the screen."""
    header = await page.evaluate("getComputedStyle(document.querySelector('header.top')).display")
    assert header == "flex", "the stylesheet was not applied"
    assert await page.evaluate("document.querySelector('header img').naturalWidth") > 0
    width = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{page.url} scrolls sideways: {width}"


async def test_home_page_and_docs_render_and_navigate_in_chromium(
    gateway: Gateway, chromium: Browser
) -> None:
    complaints: list[str] = []
    failures: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            complaints.append(message.text)

    def on_response(response: Response) -> None:
        if response.status >= 400:
            failures.append(f"{response.status} {response.url}")

    for name, viewport in VIEWPORTS.items():
        context = await chromium.new_context(viewport=viewport)
        page = await context.new_page()
        page.on("console", on_console)
        page.on("response", on_response)
        try:
            await page.goto(f"{gateway.url}/")
            await looks_right(page)
            assert await page.locator(".state.ok").inner_text() == "ok"
            await page.screenshot(path=artifact(f"home-page-{name}.png"), full_page=True)

            await page.get_by_role("link", name="Embedding pushgate on a site").first.click()
            await page.wait_for_url(f"{gateway.url}/docs/embedding")
            await looks_right(page)
            await page.screenshot(path=artifact(f"docs-embedding-{name}.png"))
            await page.locator("a[href='#the-soft-prompt']").first.click()
            await page.wait_for_url(f"{gateway.url}/docs/embedding#the-soft-prompt")
            assert await page.locator("#the-soft-prompt").is_visible()

            await page.get_by_role("link", name="Overview (README)").click()
            await page.wait_for_url(f"{gateway.url}/docs/")
            await looks_right(page)
            await page.screenshot(path=artifact(f"docs-readme-{name}.png"))
            await page.locator("#settings").scroll_into_view_if_needed()
            await page.screenshot(path=artifact(f"docs-readme-settings-{name}.png"))
            await page.locator("a[href='/docs/embedding']", has_text="docs/embedding.md").click()
            await page.wait_for_url(f"{gateway.url}/docs/embedding")
            assert await page.locator("h1#embedding-pushgate-on-a-site").is_visible()
        finally:
            await context.close()
    assert complaints == [], complaints  # a CSP violation is reported here
    assert failures == [], failures
