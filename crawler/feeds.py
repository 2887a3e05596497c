"""Reading a feed's bytes into entries, with feedparser (never given a URL: it would fetch by itself).

Every format feedparser reads (RSS 0.9x, 1.0, 2.0, Atom 0.3 and 1.0, RDF, CDF) in any declared encoding,
and JSON Feed through a small adapter. A malformed feed yields every entry that can be recovered.
"""

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any

import feedparser
from feedparser.encodings import convert_to_utf8

from crawler.entries import Entry, html_to_text, iso_utc, plausible_date
from crawler.jsonfeed import looks_like_json_feed, parse_json_feed

__all__ = ["Entry", "FeedError", "parse_feed"]


class FeedError(Exception):
    """A feed from which no entry can be recovered."""


_DECLARATION_START = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
# a declaration to its closing `>`, over quoted strings and an internal subset (linear: no nested repeats)
_DECLARATION = re.compile(r"""<!(?:DOCTYPE|ENTITY)(?:"[^"]*"|'[^']*'|\[(?:"[^"]*"|'[^']*'|[^\]"'])*\]|[^>"'\[])*>""",
                          re.IGNORECASE)


def strip_dtd(text: str) -> str:
    """The document without any document type or entity declaration (the same object when it has none).

    No feed needs one, and it is how entity bombs (billion laughs, quadratic blowup) and external entities
    get in: expat expands what a declaration defines, and feedparser's fallback parser the entities it deems
    safe. Every declaration goes, wherever it stands (what precedes it, a comment or a CDATA section, does not
    hide it), again until none is left; one never closed takes the rest of the document with it. Without
    its declaration an entity reference is left as text.
    """
    while found := _DECLARATION_START.search(text):
        whole = _DECLARATION.match(text, found.start())
        text = text[:found.start()] + (text[whole.end():] if whole else "")
    return text


def utf8_without_dtd(body: bytes, content_type: str | None = None) -> bytes:
    """A feed's bytes in UTF-8, as feedparser would decode them (BOM, HTTP charset, XML declaration, EBCDIC,
    UTF-16 and UTF-32 included), without any declaration (see strip_dtd): so that no encoding can hide one."""
    decoded: dict[str, Any] = {}
    data = convert_to_utf8({"content-type": content_type} if content_type else {}, body, decoded)
    text = data.decode("utf-8", errors="replace")
    stripped = strip_dtd(text)
    return data if stripped is text else stripped.encode("utf-8")


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
    # decoded once, here: the bytes feedparser reads are UTF-8 whatever the feed or its server declared
    headers["content-type"] = "application/xml; charset=utf-8"
    parsed = feedparser.parse(utf8_without_dtd(repaired_utf8(body, content_type), content_type),
                              response_headers=headers)
    entries = [e for e in (_entry(raw) for raw in parsed.entries) if e is not None]
    if not entries:
        reason = parsed.get("bozo_exception") if parsed.get("bozo") else "a feed without any entry"
        raise FeedError(f"not a readable feed: {reason or 'no entries'}")
    return _dated(entries)


def _dated(entries: list[Entry]) -> list[Entry]:
    """The entries with their dates made plausible (see plausible_date), as of now, the fetch time."""
    now = datetime.now(UTC)
    return [dataclasses.replace(e, published=plausible_date(e.published, now)) for e in entries]
