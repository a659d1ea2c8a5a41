"""RSS 2.0 and Atom documents for the feed tests, built from a list of entries."""

from __future__ import annotations

from html import escape


def rss(items: list[dict[str, str]]) -> bytes:
    entries = "".join(
        f"""<item>
      <title>{escape(i["title"])}</title>
      <link>{escape(i["link"])}</link>
      {f'<guid isPermaLink="false">{escape(i["guid"])}</guid>' if "guid" in i else ""}
      <description>{escape(i.get("summary", ""))}</description>
      <pubDate>Tue, 01 Dec 2026 09:00:00 GMT</pubDate>
      {f'<media:content url="{escape(i["image"])}" medium="image"/>' if "image" in i else ""}
    </item>"""
        for i in items
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">
  <channel>
    <title>The Daily Example</title>
    <link>https://news.example/</link>
    <description>News</description>
    {entries}
  </channel>
</rss>""".encode()


def atom(items: list[dict[str, str]]) -> bytes:
    entries = "".join(
        f"""<entry>
      <id>{escape(i["guid"])}</id>
      <title>{escape(i["title"])}</title>
      <link rel="alternate" href="{escape(i["link"])}"/>
      <updated>2026-12-01T09:00:00Z</updated>
      <summary type="html">{escape(i.get("summary", ""))}</summary>
    </entry>"""
        for i in items
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Example Engineering</title>
  <id>urn:example:blog</id>
  <updated>2026-12-01T09:00:00Z</updated>
  {entries}
</feed>""".encode()
