"""A feed's entries, parsed by the well-kept `feedparser` (RSS 0.9x-2.0, Atom 0.3/1.0, RDF),
as what a notification may be made of: identity, title, link, summary as plain text, image,
published time."""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import feedparser

MAX_FIELD = 2048  # characters kept of a title, summary or URL
SPACES = re.compile(r"\s+")


class FeedParseError(Exception):
    """The body is not a feed."""


@dataclass(frozen=True)
class FeedItem:
    identity: str  # id or guid, else link
    title: str
    link: str
    summary: str  # plain text
    image: str
    published: str | None  # ISO 8601, UTC


class _Text(HTMLParser):
    """The text of an HTML fragment: tags dropped, entities decoded, no script or style."""

    SKIPPED = ("script", "style")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self._skipping += 1
        elif tag in ("br", "p", "div", "li"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def plain_text(fragment: str) -> str:
    parser = _Text()
    parser.feed(fragment)
    parser.close()
    return SPACES.sub(" ", html.unescape("".join(parser.parts))).strip()[:MAX_FIELD]


def parse_feed(body: bytes) -> list[FeedItem]:
    """The entries in the feed's order (entries without an id, a guid or a link are skipped);
    FeedParseError when the body is no feed at all."""
    parsed = feedparser.parse(body)
    if parsed.bozo and not parsed.entries and not parsed.feed.get("title"):
        raise FeedParseError(f"not an RSS or Atom feed: {parsed.get('bozo_exception', '')}"[:300])
    items = [_item(entry) for entry in parsed.entries]
    return [item for item in items if item is not None]


def _item(entry: Any) -> FeedItem | None:
    link = str(entry.get("link") or "")[:MAX_FIELD]
    identity = str(entry.get("id") or link)
    if not identity:
        return None
    return FeedItem(
        identity=identity[:MAX_FIELD],
        title=plain_text(str(entry.get("title") or "")),
        link=link,
        summary=plain_text(str(entry.get("summary") or entry.get("description") or "")),
        image=_image(entry),
        published=_published(entry),
    )


def _image(entry: Any) -> str:
    for media in (*entry.get("media_content", ()), *entry.get("media_thumbnail", ())):
        url = media.get("url")
        if url and (
            media.get("medium") in (None, "image") or "image" in media.get("type", "image")
        ):
            return str(url)[:MAX_FIELD]
    for enclosure in entry.get("enclosures", ()):
        if str(enclosure.get("type", "")).startswith("image/") and enclosure.get("href"):
            return str(enclosure["href"])[:MAX_FIELD]
    return ""


def _published(entry: Any) -> str | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", parsed)
