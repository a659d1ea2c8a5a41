"""A feed's entries as what a notification is made of (issue #11): parsed by the well-kept
`feedparser` (RSS 0.9x–2.0, RDF, Atom 0.3/1.0), each entry an identity, a title, a link, a
summary as plain text, an image and a publication time.

Protocol only: it knows nothing of sites or storage."""

from __future__ import annotations

import io
import time
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import feedparser

BODY_CHARS = 120  # the default notification's body, as the issue words it
MAX_TITLE_CHARS = 300
MAX_SUMMARY_CHARS = 1000  # a template may show more than the body does, but not a whole page
MAX_URL_CHARS = 2048
ELLIPSIS = "…"
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# A line break between these elements' text, so that "<p>a</p><p>b</p>" reads "a b".
BLOCK_TAGS = frozenset(
    ("address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
     "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
     "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul")
)  # fmt: skip
HIDDEN_TAGS = frozenset({"script", "style", "template"})


class FeedParseError(Exception):
    """The body is not an RSS or Atom feed; one line, log-safe."""


@dataclass(frozen=True)
class FeedItem:
    identity: str  # the entry's id (Atom) or guid (RSS), else its link
    title: str  # plain text; "" when the entry has none
    link: str  # an absolute http(s) URL, or ""
    summary: str  # plain text, whitespace collapsed; "" when none
    image: str  # an absolute http(s) URL, or ""
    published: str | None  # ISO 8601 in UTC ("2026-11-30T17:00:00Z"), None when undated


def parse_feed(body: bytes, *, base_url: str | None = None) -> list[FeedItem]:
    """The feed's entries in its order, skipping those without an id, guid or link, and
    those with neither title nor summary. FeedParseError when the body is no feed at all.
    `base_url` (where the feed was fetched) resolves relative links."""
    headers = {"content-location": base_url} if base_url else {}
    # A file object, never bytes or str: feedparser fetches a string that looks like a URL.
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
    # feedparser is lenient: a broken feed still gives what it could read. Nothing read, and
    # either no format recognised (an HTML page, JSON) or broken XML without even a title:
    # this is not a feed.
    recognised = bool(parsed.get("version"))
    broken = parsed.bozo and not parsed.feed.get("title")
    if not parsed.entries and (broken or not recognised):
        reason = _one_line(str(parsed.get("bozo_exception") or "no RSS or Atom element"))
        raise FeedParseError(f"not an RSS or Atom feed: {reason}")
    items = (_item(entry) for entry in parsed.entries)
    return [item for item in items if item is not None]


def default_notification(item: FeedItem) -> dict[str, str]:
    """What an entry becomes without a feed's own `notification`: its title (else its
    summary cut to 120 characters), its summary cut to 120 characters as the body, its link
    as the URL; empty fields left out."""
    notification = {"title": item.title or cut(item.summary, BODY_CHARS)}
    if not notification["title"]:
        raise ValueError("an entry without title and summary has nothing to show")
    if item.title and item.summary:
        notification["body"] = cut(item.summary, BODY_CHARS)
    if item.link:
        notification["url"] = item.link
    return notification


def cut(text: str, limit: int) -> str:
    """`text` if it has at most `limit` characters, else cut on a word boundary with "…",
    `limit` characters at most in all (a single overlong word is cut where it must be)."""
    if len(text) <= limit:
        return text
    head = text[: limit - len(ELLIPSIS) + 1]
    if " " in head:
        head = head.rsplit(" ", 1)[0]
    return head[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def plain_text(fragment: str) -> str:
    """The text of an HTML fragment: tags dropped, entities decoded once, scripts and styles
    left out, whitespace collapsed."""
    parser = _TextOf()
    parser.feed(fragment)
    parser.close()
    return _collapsed("".join(parser.parts))


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN_TAGS:
            self._hidden += 1
        elif tag in BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN_TAGS:
            self._hidden = max(0, self._hidden - 1)
        elif tag in BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def _item(entry: Any) -> FeedItem | None:
    link = _http_url(entry.get("link"))
    identity = str(entry.get("id") or "") or link
    title = cut(_text(entry.get("title"), entry.get("title_detail")), MAX_TITLE_CHARS)
    summary = cut(_summary(entry), MAX_SUMMARY_CHARS)
    if not identity or not (title or summary):
        return None
    return FeedItem(identity, title, link, summary, _image(entry), _published(entry))


def _summary(entry: Any) -> str:
    if entry.get("summary"):
        # feedparser fills `summary` from an Atom entry's content when it has no summary,
        # and leaves `summary_detail` out then: the content's type is the summary's.
        detail = entry.get("summary_detail") or (entry.get("content") or [None])[0]
        return _text(entry["summary"], detail)
    for content in entry.get("content") or ():
        if content.get("value"):
            return _text(content["value"], content)
    return ""


def _text(value: object, detail: Any) -> str:
    """Plain text of a title or summary: parsed as HTML only when the feed says it is HTML
    (a plain-text "x<y" stays as written)."""
    if not value:
        return ""
    kind = (detail or {}).get("type") or "text/html"
    return plain_text(str(value)) if kind in HTML_TYPES else _collapsed(str(value))


def _image(entry: Any) -> str:
    """media:content of an image type or medium, else media:thumbnail, else an image
    enclosure (Media RSS 1.5 §5, RSS 2.0 `enclosure`)."""
    for media in entry.get("media_content") or ():
        is_image = media.get("medium") == "image" or _is_image_type(media.get("type"))
        if is_image and (url := _http_url(media.get("url"))):
            return url
    for thumbnail in entry.get("media_thumbnail") or ():
        if url := _http_url(thumbnail.get("url")):
            return url
    for enclosure in entry.get("enclosures") or ():
        if _is_image_type(enclosure.get("type")) and (url := _http_url(enclosure.get("href"))):
            return url
    return ""


def _is_image_type(kind: object) -> bool:
    return str(kind or "").lower().startswith("image/")


def _published(entry: Any) -> str | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    try:  # feedparser gives a struct_time in UTC whatever offset the feed wrote
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", parsed)
    except (TypeError, ValueError):
        return None


def _http_url(value: object) -> str:
    """The value if it is an absolute http(s) URL (a notification may link to it), else ""."""
    url = str(value or "").strip()
    if len(url) > MAX_URL_CHARS or any(c.isspace() or unicodedata.category(c) == "Cc" for c in url):
        return ""
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else ""


def _collapsed(text: str) -> str:
    """Control characters dropped (the API refuses them in text fields), whitespace runs
    made one space."""
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    return " ".join(text.split())


def _one_line(text: str) -> str:
    return _collapsed(text)[:200]
