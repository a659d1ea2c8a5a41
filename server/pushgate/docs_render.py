"""Markdown to HTML for the docs pages: CommonMark with tables (markdown-it-py), raw HTML
escaped, headings given GitHub's anchor ids, and relative links mapped to the served pages.

The same Markdown reads right on GitHub and in a checkout, so its links are repository paths
(`docs/embedding.md#the-soft-prompt`); here they become `/docs/embedding#the-soft-prompt`. A
link to a file the package does not ship (`bench/README.md`) keeps its text, unlinked, with the
path in a tooltip: a dead link helps nobody.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token

Resolve = Callable[[str], str | None]  # a repository path -> its URL, or None if not shipped

_NOT_IN_SLUG = re.compile(r"[^\w\- ]")


@dataclass(frozen=True)
class Rendered:
    title: str  # the first heading's text
    html: str


def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


_MD = _markdown()


def render(source: str, path: str, resolve: Resolve) -> Rendered:
    """Render the Markdown file at repository path `path` (e.g. `docs/embedding.md`)."""
    tokens = _MD.parse(source)
    title = _add_heading_ids(tokens)
    for token in tokens:
        _align_by_class(token)
        for child in token.children or ():
            if child.type == "link_open":
                _rewrite_link(child, path, resolve)
            elif child.type == "image":
                _rewrite_image(child, path, resolve)
    _pair_closers(tokens)
    return Rendered(title or path, _MD.renderer.render(tokens, _MD.options, {}))


def slug(text: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    return _NOT_IN_SLUG.sub("", text.strip().lower()).replace(" ", "-")


def _add_heading_ids(tokens: list[Token]) -> str:
    """Give every heading its GitHub id (`-1`, `-2` after repeats); the first one's text."""
    seen: dict[str, int] = {}
    first = ""
    for opening, inline in zip(tokens, tokens[1:], strict=False):
        if opening.type != "heading_open":
            continue
        words = [c.content for c in inline.children or () if c.type in ("text", "code_inline")]
        text = "".join(words)
        first = first or text
        base = slug(text)
        count = seen.get(base, 0)
        seen[base] = count + 1
        opening.attrSet("id", base if count == 0 else f"{base}-{count}")
    return first


def _align_by_class(token: Token) -> None:
    """A table column's alignment as a class: the pages' CSP allows no inline style."""
    style = str(token.attrGet("style") or "")
    if token.type in ("th_open", "td_open") and style.startswith("text-align:"):
        token.attrs.pop("style")
        token.attrSet("class", "align-" + style.removeprefix("text-align:"))


def _rewrite_link(token: Token, path: str, resolve: Resolve) -> None:
    href = str(token.attrGet("href") or "")
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.path:
        return  # absolute URL, mail address, or a fragment of this page
    target = posixpath.normpath(posixpath.join(posixpath.dirname(path), parts.path))
    url = resolve(target)
    if url is not None:
        token.attrSet("href", url + (f"#{parts.fragment}" if parts.fragment else ""))
        return
    # Not shipped: the text stays, as a span that says where the file is.
    token.type, token.tag = "offsite_open", "span"
    token.attrs = {"class": "offsite", "title": f"{target} in the pushgate source repository"}


def _rewrite_image(token: Token, path: str, resolve: Resolve) -> None:
    """A picture of the repository (docs/screenshots/…) at its served URL; another stays."""
    src = str(token.attrGet("src") or "")
    parts = urlsplit(src)
    if parts.scheme or parts.netloc or not parts.path:
        return
    url = resolve(posixpath.normpath(posixpath.join(posixpath.dirname(path), parts.path)))
    if url is not None:
        token.attrSet("src", url)


def _pair_closers(tokens: list[Token]) -> None:
    """Close each unlinked link's span: links do not nest, so a close follows its open."""
    for token in tokens:
        open_span = False
        for child in token.children or ():
            if child.type == "offsite_open":
                open_span = True
            elif child.type == "link_close" and open_span:
                child.type, child.tag, open_span = "offsite_close", "span", False
