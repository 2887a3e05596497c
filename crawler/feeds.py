"""Reading a feed's bytes into entries, with feedparser (never given a URL: it would fetch by itself).

Every format feedparser reads (RSS 0.9x, 1.0, 2.0, Atom 0.3 and 1.0, RDF, CDF) in any declared encoding,
and JSON Feed through a small adapter. A malformed feed yields every entry that can be recovered.
"""

from typing import Any

import feedparser

from crawler.entries import Entry, html_to_text, iso_utc
from crawler.jsonfeed import looks_like_json_feed, parse_json_feed

__all__ = ["Entry", "FeedError", "parse_feed"]


class FeedError(Exception):
    """A feed from which no entry can be recovered."""


def _entry(raw: Any) -> Entry | None:
    link = raw.get("link") or next(
        (ln.get("href") for ln in raw.get("links", []) if ln.get("href")), None)
    if not link:
        return None
    content = raw.get("content") or []
    body = max((c.get("value", "") for c in content), key=len, default="") or raw.get("summary", "")
    return Entry(
        link=link,
        guid=raw.get("id") or None,
        title=html_to_text(raw.get("title", "")),
        summary=html_to_text(body),
        author=raw.get("author") or None,
        published=iso_utc(raw.get("published_parsed") or raw.get("updated_parsed")),
    )


def parse_feed(body: bytes, content_type: str | None = None, url: str | None = None) -> list[Entry]:
    """Every entry that can be recovered from a feed's bytes; FeedError when there is none."""
    if looks_like_json_feed(body, content_type):
        found, problem = parse_json_feed(body)
        if not found:
            raise FeedError(f"not a readable JSON Feed: {problem or 'no entries'}")
        return found
    headers = {"content-type": content_type} if content_type else {}
    if url:
        headers["content-location"] = url
    parsed = feedparser.parse(body, response_headers=headers)
    entries = [e for e in (_entry(raw) for raw in parsed.entries) if e is not None]
    if not entries:
        reason = parsed.get("bozo_exception") if parsed.get("bozo") else "a feed without any entry"
        raise FeedError(f"not a readable feed: {reason or 'no entries'}")
    return entries
