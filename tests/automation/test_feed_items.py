"""What a feed's entries become: the RSS 2.0 and Atom fixtures (HTML summaries, media:content
images, guid and link-only entries) parsed into items, and the default notification."""

from __future__ import annotations

from pathlib import Path

import pytest

from pushgate.automation.feed_items import (
    BODY_CHARS,
    FeedItem,
    FeedParseError,
    cut,
    default_notification,
    parse_feed,
    plain_text,
)

FIXTURES = Path(__file__).parent / "fixtures"


def _items(name: str) -> list[FeedItem]:
    return parse_feed((FIXTURES / name).read_bytes())


def test_rss_entries_in_feed_order_by_guid_else_link_and_unidentified_ones_skipped() -> None:
    assert [item.identity for item in _items("news.rss")] == [
        "courier-article-48213",
        "https://courier.example/sport/2026/11/30/city-cup-final",
        "https://courier.example/weather/storm-warning",  # no guid: its link
        "courier-podcast-week-48",
    ]  # the fifth has no guid, no link: skipped


def test_rss_html_summary_becomes_plain_text_without_its_script() -> None:
    tram = _items("news.rss")[0]
    assert tram.title == "Council approves & funds the new tram line"
    assert tram.summary == (
        "The council voted 31 to 20 on Monday evening to fund the eastern tram line, ending a "
        "decade of debate. Work starts in spring; the line will run from the station to the "
        "university, with twelve stops and a depot at Millbrook."
    )
    assert tram.link == "https://courier.example/news/2026/11/30/tram-line-approved"


def test_rss_escaped_markup_and_entities_are_decoded_once() -> None:
    storm = _items("news.rss")[2]
    assert storm.summary == "Gusts up to 110 km/h are expected after 22:00 along the whole coast."


def test_rss_image_from_media_content_thumbnail_or_image_enclosure_only() -> None:
    assert [item.image for item in _items("news.rss")] == [
        "https://img.courier.example/2026/11/tram-1200.jpg",  # media:content medium=image
        "https://img.courier.example/2026/11/city-thumb.jpg",  # media:thumbnail
        "https://img.courier.example/2026/11/storm.png",  # enclosure type image/png
        "",  # an audio enclosure is no image
    ]


def test_published_is_iso_8601_in_utc_whatever_offset_the_feed_wrote() -> None:
    assert _items("news.rss")[0].published == "2026-11-30T17:00:00Z"  # 18:00 +0100
    assert _items("news.rss")[1].published == "2026-11-30T16:45:00Z"
    atom = _items("blog.atom")
    assert atom[0].published == "2026-11-29T09:30:00Z"  # <published>, not <updated>
    assert atom[1].published == "2026-10-12T08:00:00Z"  # only <updated>


def test_atom_entries_by_id_with_html_title_xhtml_content_and_plain_text_kept() -> None:
    latency, etags, draft = _items("blog.atom")
    assert latency.identity == "tag:engineering.courier.example,2026-11-29:/push-latency"
    assert latency.title == "How we cut our push latency in half"  # type="html"
    assert latency.summary == (
        "We moved encryption into worker processes and kept HTTP/2 connections warm. "
        "The result: p99 from 840 ms to 390 ms."
    )
    assert latency.image == "https://img.courier.example/blog/latency-chart.png"
    assert latency.link == "https://engineering.courier.example/2026/11/push-latency"
    assert etags.summary == "A conditional GET costs the server almost nothing. ETag Last-Modified"
    assert etags.image == ""
    assert draft.summary == (
        "Plain text summary with a <tag> shown as written, x<y and extra spaces."
    )


def test_default_notification_is_title_summary_cut_to_120_and_link() -> None:
    tram = _items("news.rss")[0]
    notification = default_notification(tram)
    assert notification == {
        "title": "Council approves & funds the new tram line",
        "body": "The council voted 31 to 20 on Monday evening to fund the eastern tram line, "
        "ending a decade of debate. Work starts in…",
        "url": "https://courier.example/news/2026/11/30/tram-line-approved",
    }
    assert len(notification["body"]) <= BODY_CHARS


def test_default_notification_without_a_title_shows_the_summary_and_leaves_out_empties() -> None:
    summary = " ".join(["A notice"] * 20)
    item = FeedItem("urn:1", "", "", summary, "", None)
    assert default_notification(item) == {"title": cut(summary, BODY_CHARS)}
    assert default_notification(item)["title"].endswith(" A…")  # 119 characters and "…"
    with pytest.raises(ValueError):
        default_notification(FeedItem("urn:2", "", "https://x.example/", "", "", None))


def test_an_entry_with_neither_title_nor_summary_is_skipped() -> None:
    body = b"""<rss version="2.0"><channel><title>t</title>
      <item><guid>a</guid><link>https://x.example/a</link></item>
      <item><guid>b</guid><title>B</title></item></channel></rss>"""
    assert [item.identity for item in parse_feed(body)] == ["b"]


def test_links_and_images_are_kept_only_as_absolute_http_urls() -> None:
    body = b"""<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>
      <title>t</title>
      <item><guid>a</guid><title>A</title><link>javascript:alert(1)</link>
        <media:content url="data:image/png;base64,AAAA" medium="image"/></item>
      <item><guid>b</guid><title>B</title><link>/relative/b</link></item>
    </channel></rss>"""
    assert [(item.link, item.image) for item in parse_feed(body)] == [("", ""), ("", "")]
    based = parse_feed(body, base_url="https://news.example/feed.xml")
    assert based[1].link == "https://news.example/relative/b"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short enough", 120, "short enough"),
        ("one two three four", 12, "one two…"),
        ("one two three", 13, "one two three"),
        ("abcdefghijklmnop", 8, "abcdefg…"),
        ("exactly eight ok", 9, "exactly…"),
    ],
)
def test_cut_ends_on_a_word_boundary_within_the_limit(text: str, limit: int, expected: str) -> None:
    assert cut(text, limit) == expected
    assert len(cut(text, limit)) <= limit


def test_plain_text_drops_tags_decodes_entities_once_and_collapses_whitespace() -> None:
    assert plain_text("a<br>b &amp;  c") == "a b & c"
    assert plain_text("<p>one</p><p>two</p>") == "one two"
    assert plain_text("&amp;lt;kept&amp;gt;") == "&lt;kept&gt;"
    assert plain_text("<style>p{}</style>x<script>y()</script>\u0007z") == "x z"
    assert plain_text("caf&eacute; &#8211; 5&nbsp;km") == "café – 5 km"


@pytest.mark.parametrize(
    "body",
    [
        b"<html><head><title>Home</title></head><body><p>not a feed</p></body></html>",
        b"<html><body>not a feed</body></html",
        b'{"version": "https://jsonfeed.org/version/1.1", "items": []}',
        b"",
        b"\x00\x01 garbage",
    ],
)
def test_a_body_that_is_no_feed_is_a_one_line_parse_error(body: bytes) -> None:
    with pytest.raises(FeedParseError, match="^not an RSS or Atom feed: ") as refused:
        parse_feed(body)
    assert "\n" not in str(refused.value)


def test_a_feed_with_no_entries_yet_is_an_empty_list() -> None:
    assert parse_feed(b"<rss version='2.0'><channel><title>Soon</title></channel></rss>") == []
