"""JSON Feed (https://jsonfeed.org, versions 1 and 1.1) read into the same entries as any other feed."""

import json
from typing import Any

from crawler.entries import Entry, html_to_text, iso_from_text


def looks_like_json_feed(body: bytes, content_type: str | None) -> bool:
    """Whether these bytes are a JSON document rather than XML (by type, else by the first character)."""
    if content_type and "json" in content_type.lower():
        return True
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def _author(item: dict[str, Any], feed: dict[str, Any]) -> str | None:
    authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
    if not authors:
        authors = feed.get("authors") or ([feed["author"]] if isinstance(feed.get("author"), dict) else [])
    names = [str(a["name"]) for a in authors if isinstance(a, dict) and a.get("name")]
    return ", ".join(names) or None


def _entry(item: Any, feed: dict[str, Any]) -> Entry | None:
    if not isinstance(item, dict):
        return None
    link = item.get("url") or item.get("external_url")
    if not isinstance(link, str) or not link:
        return None
    body = item.get("content_text") or html_to_text(str(item.get("content_html") or "")) \
        or str(item.get("summary") or "")
    guid = item.get("id")
    return Entry(link=link, guid=str(guid) if guid not in (None, "") else None,
                 title=html_to_text(str(item.get("title") or "")), summary=" ".join(str(body).split()),
                 author=_author(item, feed),
                 published=iso_from_text(item.get("date_published") or item.get("date_modified")))


def parse_json_feed(body: bytes) -> tuple[list[Entry], str | None]:
    """The entries of a JSON Feed, and why none could be read (None when the document was a feed)."""
    try:
        feed = json.loads(body.decode("utf-8-sig", errors="replace"))
    except ValueError as exc:
        return [], f"not valid JSON: {exc}"
    if not isinstance(feed, dict) or not isinstance(feed.get("items"), list):
        return [], "a JSON document without an items list is not a JSON Feed"
    return [e for e in (_entry(item, feed) for item in feed["items"]) if e is not None], None
