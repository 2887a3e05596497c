"""Reading a feed's bytes into entries, with feedparser (never given a URL: it would fetch by itself).

Every format feedparser reads (RSS 0.9x, 1.0, 2.0, Atom 0.3 and 1.0, RDF, CDF) in any declared encoding,
and JSON Feed through a small adapter. A malformed feed yields every entry that can be recovered.
"""

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any

import feedparser

from crawler.entries import Entry, html_to_text, iso_utc, plausible_date
from crawler.jsonfeed import looks_like_json_feed, parse_json_feed

__all__ = ["Entry", "FeedError", "parse_feed"]


class FeedError(Exception):
    """A feed from which no entry can be recovered."""


_DOCTYPE = re.compile(r"<!DOCTYPE", re.IGNORECASE)
_ELEMENT = re.compile(r"<[A-Za-z_]")
_SUBSET_END = re.compile(r"\]\s*>")


def strip_dtd(text: str) -> str:
    """The document without the type declaration of its prolog (the same object when it has none).

    No feed needs one, and it is how entity bombs (billion laughs, quadratic blowup) and external entities
    get in: feedparser keeps the entities it deems safe and its fallback parser expands them without limit
    (a 200 KB feed became a 3 GB title). Without the declaration an entity reference is left as text.
    """
    found = _DOCTYPE.search(text)
    if found is None or _ELEMENT.search(text, 0, found.start()):
        return text
    start = found.start()
    close = text.find(">", start)
    bracket = text.find("[", start)
    if bracket >= 0 and (close < 0 or bracket < close):
        subset_end = _SUBSET_END.search(text, bracket)
        close = subset_end.end() - 1 if subset_end else len(text)
    return text[:start] + text[close + 1:] if close >= 0 else text[:start]


def without_dtd(body: bytes) -> bytes:
    """A feed's bytes without their document type declaration (see strip_dtd), in the same encoding."""
    if body.startswith((b"\xff\xfe", b"<\x00")):
        codec = "utf-16-le"
    elif body.startswith((b"\xfe\xff", b"\x00<")):
        codec = "utf-16-be"
    else:
        codec = "latin-1"  # any ASCII-compatible encoding: markup is ASCII, one character per byte
    text = body.decode(codec, errors="replace")
    stripped = strip_dtd(text)
    return body if stripped is text else stripped.encode(codec, errors="replace")


_XML_ENCODING = re.compile(rb"""^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)""")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._-]+)", re.IGNORECASE)
_DECODED = re.compile("[^\x00-\x7f\ufffd]")


def repaired_utf8(body: bytes, content_type: str | None = None) -> bytes:
    """A UTF-8 feed with a few invalid bytes, each replaced by U+FFFD; any other feed as it is.

    feedparser reads a feed that is not valid UTF-8 again in a legacy encoding, all of it: two stray
    bytes in one title turned every accent of the feed into mojibake. A feed declaring another encoding,
    or without a single valid UTF-8 accent (Latin-1 declared UTF-8), is left to feedparser's guess.
    """
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return body
    declared = [m.group(1).decode("ascii").lower() for m in [_XML_ENCODING.match(body[:512])] if m]
    declared += [m.group(1).lower() for m in [_CHARSET.search(content_type or "")] if m]
    if any(name.replace("-", "").replace("_", "") != "utf8" for name in declared):
        return body
    text = body.decode("utf-8", errors="replace")
    return text.encode("utf-8") if _DECODED.search(text) else body


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
        return _dated(found)
    headers = {"content-type": content_type} if content_type else {}
    if url:
        headers["content-location"] = url
    parsed = feedparser.parse(without_dtd(repaired_utf8(body, content_type)), response_headers=headers)
    entries = [e for e in (_entry(raw) for raw in parsed.entries) if e is not None]
    if not entries:
        reason = parsed.get("bozo_exception") if parsed.get("bozo") else "a feed without any entry"
        raise FeedError(f"not a readable feed: {reason or 'no entries'}")
    return _dated(entries)


def _dated(entries: list[Entry]) -> list[Entry]:
    """The entries with their dates made plausible (see plausible_date), as of now, the fetch time."""
    now = datetime.now(UTC)
    return [dataclasses.replace(e, published=plausible_date(e.published, now)) for e in entries]
