"""The documentation shipped with the package, served at `/docs/`: README.md as the index and
each docs/*.md at `/docs/<name>`, rendered from the same Markdown a checkout reads."""

from __future__ import annotations

import functools
import re
from html import escape
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from pushgate.api.http import contain_unexpected
from pushgate.docs_render import Rendered, render
from pushgate.errors import ApiError
from pushgate.page_layout import page

INDEX = "README.md"
PREFIX = "/docs/"
INDEX_LABEL = "Overview (README)"
SCREENSHOTS = "screenshots"  # docs/screenshots/*.png, served at /docs/screenshots/<name>
_PICTURE_NAME = re.compile(r"[a-z0-9][a-z0-9-]*\.png")


def docs_root() -> Path:
    """The folder holding README.md and docs/: inside the installed package (pyproject copies
    them there), or the repository root when shipped_docs' links are missing."""
    packaged = Path(__file__).parent / "shipped_docs"
    if (packaged / INDEX).is_file():
        return packaged
    return Path(__file__).resolve().parents[2]


def doc_urls(root: Path) -> dict[str, str]:
    """Each shipped Markdown file's repository path and URL, the index first."""
    urls = {INDEX: PREFIX}
    for file in sorted((root / "docs").glob("*.md")):
        urls[f"docs/{file.name}"] = PREFIX + file.stem
    return urls


def picture_urls(root: Path) -> dict[str, str]:
    """Each shipped screenshot's repository path and URL."""
    return {
        f"docs/{SCREENSHOTS}/{file.name}": f"{PREFIX}{SCREENSHOTS}/{file.name}"
        for file in sorted((root / "docs" / SCREENSHOTS).glob("*.png"))
    }


@functools.lru_cache(maxsize=32)
def _rendered(file: Path, path: str, mtime_ns: int, root: Path) -> Rendered:
    # `mtime_ns` is part of the key: an edited file in a checkout renders again.
    urls = {**doc_urls(root), **picture_urls(root)}
    return render(file.read_text(encoding="utf-8"), path, urls.get)


def rendered(root: Path, path: str) -> Rendered:
    file = root / path
    return _rendered(file, path, file.stat().st_mtime_ns, root)


def doc_links(root: Path) -> list[tuple[str, str]]:
    """(URL, label) of each page: the README as the overview, the others by their title."""
    return [
        (url, INDEX_LABEL if path == INDEX else rendered(root, path).title)
        for path, url in doc_urls(root).items()
    ]


def _doc_list(root: Path, current: str) -> str:
    items = []
    for url, label in doc_links(root):
        mark = ' aria-current="page"' if url == current else ""
        items.append(f'<li><a href="{url}"{mark}>{escape(label)}</a></li>')
    return f'<nav class="doclist" aria-label="Documentation"><ul>{"".join(items)}</ul></nav>'


async def doc_page(request: Request) -> Response:
    root = docs_root()
    name = request.path_params.get("name", "")
    url = PREFIX + name
    paths = {u: p for p, u in doc_urls(root).items()}
    if url not in paths:  # in the one error shape, as every other route answers
        raise ApiError("not_found", f"no docs page {name!r}; the list is at {PREFIX}")
    doc = rendered(root, paths[url])
    body = f'{_doc_list(root, url)}<article class="doc">{doc.html}</article>'
    return page(f"{doc.title} · pushgate docs", body, current=PREFIX)


async def picture(request: Request) -> Response:
    """A screenshot the docs show (a fixed folder, names checked: no path leaves it)."""
    name = str(request.path_params["name"])
    file = docs_root() / "docs" / SCREENSHOTS / name
    if not _PICTURE_NAME.fullmatch(name) or not file.is_file():
        raise ApiError("not_found", f"no picture {name!r} in the docs")
    return FileResponse(file, media_type="image/png", headers={"Cache-Control": "max-age=3600"})


routes = contain_unexpected(
    [
        Route(PREFIX, doc_page, methods=["GET"]),
        Route(PREFIX + SCREENSHOTS + "/{name}", picture, methods=["GET"]),
        Route(PREFIX + "{name}", doc_page, methods=["GET"]),
    ]
)
