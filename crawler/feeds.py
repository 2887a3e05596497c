"""Reading a feed's bytes into entries, with feedparser (never given a URL: it would fetch by itself)."""

import calendar
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser
from w3lib.html import remove_tags, replace_entities


class FeedError(Exception):
    """A feed from which no entry can be recovered."""


@dataclass(frozen=True)
class Entry:
    """One feed entry: its link and what the feed says of it."""

    link: str
    guid: str | None
    title: str
    summary: str
    author: str | None
    published: str | None


def iso_utc(parsed: time.struct_time | None) -> str | None:
    """feedparser's UTC struct_time as an ISO 8601 string."""
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC).isoformat()


def html_to_text(html: str) -> str:
    """Plain text from a feed's HTML summary or content."""
    return " ".join(replace_entities(remove_tags(html)).split())


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
    headers = {"content-type": content_type} if content_type else {}
    if url:
        headers["content-location"] = url
    parsed = feedparser.parse(body, response_headers=headers)
    entries = [e for e in (_entry(raw) for raw in parsed.entries) if e is not None]
    if not entries and parsed.get("bozo"):
        reason = parsed.get("bozo_exception") or "not a feed"
        raise FeedError(f"not a readable feed: {reason}")
    return entries
