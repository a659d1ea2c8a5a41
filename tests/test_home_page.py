"""The home page and /docs/ as a real gateway serves them: content, headers, links that resolve,
health from the /healthz checks, and the docs of an installed wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin

import httpx
import pytest

from pushgate import __version__
from pushgate.docs_render import render
from pushgate.page_layout import CONTENT_SECURITY_POLICY
from tests.conftest import BACKEND, Gateway, free_port
from tests.gateway.test_healing import _fill, _small_tmpfs

REPO = Path(__file__).resolve().parents[1]
DOC_PAGES = ["/docs/", "/docs/architecture", "/docs/embedding"]


class Page(HTMLParser):
    """The links, element ids and tags of one HTML page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.tags: set[str] = set()
        self.styled = False  # any style="" attribute
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        values = dict(attrs)
        self.styled = self.styled or "style" in values
        if values.get("id"):
            self.ids.add(str(values["id"]))
        if tag in ("a", "link", "img") and (values.get("href") or values.get("src")):
            self.links.append(str(values.get("href") or values.get("src")))


def crawl(base_url: str, start: list[str]) -> dict[str, tuple[httpx.Response, Page]]:
    """Every same-origin page and asset reachable from `start` (absolute links to other
    hosts are not fetched: the docs link to RFCs and the like)."""
    seen: dict[str, tuple[httpx.Response, Page]] = {}
    queue = list(start)
    with httpx.Client(base_url=base_url, timeout=10) as client:
        while queue:
            path = queue.pop()
            if path in seen:
                continue
            response = client.get(path)
            if path.startswith("/dashboard"):  # its own pages and tests: here, the way in
                assert response.status_code == 303, f"{path}: {response.status_code}"
                assert response.headers["location"].startswith("/dashboard/login"), path
                seen[path] = (response, Page(""))
                continue
            assert response.status_code == 200, f"{path}: {response.status_code}"
            html = response.headers["content-type"].startswith("text/html")
            page = Page(response.text if html else "")
            seen[path] = (response, page)
            for link in page.links:
                target = urljoin(base_url + path, link)
                if target.startswith(base_url):
                    queue.append(urldefrag(target).url.removeprefix(base_url))
    return seen


def fragments_resolve(base_url: str, pages: dict[str, tuple[httpx.Response, Page]]) -> None:
    for path, (_, page) in pages.items():
        for link in page.links:
            target, fragment = urldefrag(urljoin(base_url + path, link))
            if fragment and target.startswith(base_url):
                ids = pages[target.removeprefix(base_url)][1].ids
                assert fragment in ids, f"{path} links {link}: no id {fragment!r} there"


def test_home_page_says_what_this_is_with_version_health_sites_docs_and_snippet(
    gateway_factory: Any,
) -> None:
    gateway: Gateway = gateway_factory(PUSHGATE_SEND_WORKERS="2")
    home = httpx.get(f"{gateway.base_url}/")
    assert home.status_code == 200
    assert home.headers["content-type"] == "text/html; charset=utf-8"
    assert home.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert (
        "default-src 'none'" in CONTENT_SECURITY_POLICY
        and "unsafe" not in home.headers["content-security-policy"]
    )
    text = home.text
    assert f"<title>pushgate {__version__}</title>" in text
    assert "self-hosted Web Push gateway" in text
    assert '<dt>Health</dt><dd><span class="state ok">ok</span>' in text
    assert "<dt>Sites</dt><dd>0</dd>" in text
    assert f"<dt>Database</dt><dd>{BACKEND}</dd>" in text
    assert "<dt>Send workers</dt><dd>2 of 2 running</dd>" in text
    snippet = (
        f'&lt;script src="{gateway.base_url}/static/pushgate.js" data-site="SITE_ID" '
        "async&gt;&lt;/script&gt;"
    )
    assert snippet in text
    assert f'importScripts("{gateway.base_url}/sw/pushgate-sw.js");' in text
    page = Page(text)
    assert {"/docs/", "/docs/embedding", "/docs/architecture", "/healthz"} <= set(page.links)
    assert "script" not in page.tags and not page.styled

    gateway.create_site("news")
    gateway.create_site("shop")
    assert "<dt>Sites</dt><dd>2</dd>" in httpx.get(f"{gateway.base_url}/").text


def test_every_link_from_the_home_page_and_docs_answers_200_and_every_anchor_exists(
    module_gateway: Gateway,
) -> None:
    base = module_gateway.base_url
    pages = crawl(base, ["/", *DOC_PAGES])
    assert set(DOC_PAGES) | {"/", "/healthz", "/openapi.json", "/dashboard/"} <= set(pages)
    assert {"/assets/pushgate.css", "/assets/icon.svg"} <= set(pages)
    fragments_resolve(base, pages)
    for path in ["/", *DOC_PAGES]:
        response, page = pages[path]
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert "script" not in page.tags and not page.styled, path


def test_docs_pages_render_the_shipped_markdown(module_gateway: Gateway) -> None:
    base = module_gateway.base_url
    embedding = httpx.get(f"{base}/docs/embedding").text
    assert '<h1 id="embedding-pushgate-on-a-site">Embedding pushgate on a site</h1>' in embedding
    assert '<a href="#the-soft-prompt">The soft prompt</a>' in embedding
    # Raw HTML in the Markdown is shown, never run: the script tag example is escaped.
    assert "&lt;script src=&quot;GATEWAY/static/pushgate.js&quot;" in embedding
    readme = httpx.get(f"{base}/docs/").text
    assert '<a href="/docs/embedding">docs/embedding.md</a>' in readme
    assert '<h2 id="error-codes">Error codes</h2>' in readme
    assert "<td><code>origin_not_allowed</code></td>" in readme
    # A file the package does not ship stays as text, with where it is.
    assert 'title="bench/README.md in the pushgate source repository"' in readme
    assert 'href="bench/README.md' not in readme


def test_unknown_docs_page_is_a_404_in_the_error_shape(module_gateway: Gateway) -> None:
    answer = httpx.get(f"{module_gateway.base_url}/docs/secrets")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
    assert "/docs/" in answer.json()["error"]["message"]
    for path in ("/docs/..%2Fpyproject.toml", "/docs/shipped_docs", "/docs/README"):
        assert httpx.get(f"{module_gateway.base_url}{path}").status_code == 404, path


def test_favicon_is_an_icon_file(module_gateway: Gateway) -> None:
    icon = httpx.get(f"{module_gateway.base_url}/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # ICONDIR: reserved 0, type 1 (icon)
    svg = httpx.get(f"{module_gateway.base_url}/assets/icon.svg")
    assert svg.headers["content-type"] == "image/svg+xml" and svg.text.startswith("<svg")


def test_markdown_links_map_to_served_pages_and_headings_get_githubs_ids() -> None:
    urls = {"README.md": "/docs/", "docs/embedding.md": "/docs/embedding"}
    source = (
        "# The `window.pushgate` API\n\n## Setup\n\n## Setup\n\n"
        "[up](../README.md#settings) [here](#setup-1) [out](../bench/README.md) "
        "[web](https://example.com/a.md) [mail](mailto:ops@example.com)\n\n"
        "| a | b |\n|---:|:-:|\n| 1 | 2 |\n\n<b>raw</b>\n"
    )
    doc = render(source, "docs/embedding.md", urls.get)
    assert doc.title == "The window.pushgate API"
    assert '<h1 id="the-windowpushgate-api">' in doc.html
    assert '<h2 id="setup">Setup</h2>' in doc.html and '<h2 id="setup-1">Setup</h2>' in doc.html
    assert '<a href="/docs/#settings">up</a>' in doc.html
    assert '<a href="#setup-1">here</a>' in doc.html
    assert (
        '<span class="offsite" title="bench/README.md in the pushgate source repository">out</span>'
    ) in doc.html
    assert '<a href="https://example.com/a.md">web</a>' in doc.html
    assert '<a href="mailto:ops@example.com">mail</a>' in doc.html
    assert '<th class="align-right">a</th>' in doc.html and 'class="align-center"' in doc.html
    assert "style=" not in doc.html and "&lt;b&gt;raw&lt;/b&gt;" in doc.html


@pytest.mark.own_database
def test_home_page_shows_the_database_failure_healthz_reports(tmp_path: Path) -> None:
    with _small_tmpfs(tmp_path / "disk", "16m") as disk:
        gateway = Gateway(f"sqlite:///{disk / 'pushgate.db'}", free_port(), "127.0.0.1:9")
        gateway.start()
        try:
            _fill(disk)
            health = httpx.get(f"{gateway.base_url}/healthz")
            for _ in range(50):  # the probe runs at most once a second
                if health.status_code != 200:
                    break
                time.sleep(0.2)
                health = httpx.get(f"{gateway.base_url}/healthz")
            assert health.json()["error"]["code"] == "store_unavailable"
            home = httpx.get(f"{gateway.base_url}/")
        finally:
            gateway.stop()
    assert home.status_code == 200
    assert '<span class="state unavailable">unavailable</span>' in home.text
    assert health.json()["error"]["message"] in home.text
    assert "<dt>Sites</dt>" not in home.text  # not counted from a database that failed


@pytest.fixture
def installed_wheel(tmp_path: Path) -> Iterator[Path]:
    """pushgate built into a wheel (from a copy of the tree) and unpacked, as pip installs it."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "node_modules")
    for name in ("server", "static", "sw", "demo-site", "docs"):
        shutil.copytree(REPO / name, source / name, symlinks=True, ignore=skip)
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    built = subprocess.run(
        [*build, "--no-index", "-q", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    site = tmp_path / "site-packages"
    (wheel,) = (tmp_path / "dist").glob("pushgate-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    shutil.rmtree(source)  # nothing left to fall back on
    yield site


def test_installed_wheel_serves_its_docs_and_page_assets(
    installed_wheel: Path, tmp_path: Path
) -> None:
    env = {"PYTHONPATH": str(installed_wheel)}
    where = subprocess.run(
        [sys.executable, "-c", "from pushgate import docs_pages; print(docs_pages.docs_root())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.strip()
    assert Path(where).is_relative_to(installed_wheel), where
    assert not (installed_wheel / "pushgate" / "shipped_docs" / "README.md").is_symlink()
    gateway = Gateway(
        f"sqlite:///{tmp_path / 'pushgate.db'}", free_port(), "127.0.0.1:9", extra_env=env
    )
    gateway.start()
    try:
        pages = crawl(gateway.base_url, ["/", *DOC_PAGES, "/favicon.ico"])
        fragments_resolve(gateway.base_url, pages)
    finally:
        gateway.stop()
    assert '<h2 id="error-codes">Error codes</h2>' in pages["/docs/"][0].text
    assert pages["/favicon.ico"][0].content[:4] == b"\x00\x00\x01\x00"


@pytest.mark.parametrize(
    ("host", "public_url", "expected"),
    [
        ("0.0.0.0", "", "http://127.0.0.1:8080"),  # as this page was reached
        ("::", "", "http://127.0.0.1:8080"),
        ("0.0.0.0", "https://push.news.example", "https://push.news.example"),
        ("127.0.0.1", "", "http://127.0.0.1:9999"),  # the address it listens on
    ],
)
async def test_the_embed_snippet_never_points_at_every_interface(
    tmp_path: Path, host: str, public_url: str, expected: str
) -> None:
    """In process (no socket): on 0.0.0.0 without a public URL, a script tag pointing at
    http://0.0.0.0:PORT would load nothing in a visitor's browser."""
    from pushgate.app import create_app
    from pushgate.settings import Settings
    from pushgate.store import open_store

    settings = Settings(
        database=f"sqlite:///{tmp_path / 'p.db'}", host=host, port=9999, public_url=public_url
    )
    async with open_store(settings) as store:
        app = create_app(settings, store=store, deliver=False)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://127.0.0.1:8080"
            ) as http:
                page = (await http.get("/")).text
    assert f'src="{expected}/static/pushgate.js"' in page
    assert f'importScripts("{expected}/sw/pushgate-sw.js")' in page
    assert "0.0.0.0" not in page and "[::]" not in page
