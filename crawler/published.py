"""The publication time a page declares, time of day and time zone included.

    page_published(tree)        "2026-12-02T13:35:00+00:00" from
                                <meta property="article:published_time" content="2026-12-02T14:35:00+01:00">

trafilatura's date search (htmldate) gives a date without its time of day: an article of 14:35 would be
stored at midnight (01:00 in Paris). The page's own timestamp is read first, in this order: Open Graph's
article:published_time, JSON-LD datePublished, <time datetime> of the article, then other meta tags
(schema.org itemprop, Dublin Core, og). Only a value with a time of day counts; one with a time zone is
preferred to one without (taken as UTC).
"""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from lxml.html import HtmlElement

_OPEN_GRAPH = "//meta[@property='article:published_time' or @name='article:published_time']/@content"
_JSON_LD = "//script[@type='application/ld+json']/text()"
_TIME = ("//time[@itemprop='datePublished' or @pubdate]/@datetime | //article//time/@datetime"
         " | //*[@itemprop='datePublished']/@datetime")
# other names of the publication time in <meta name=... | property=... | itemprop=...>, lower-cased
_OTHER_META = frozenset({"datepublished", "og:published_time", "og:article:published_time", "pubdate", "publish-date",
                         "parsely-pub-date", "sailthru.date", "date", "dc.date", "dc.date.issued", "dcterms.issued",
                         "dcterms.created"})


def page_published(tree: HtmlElement) -> str | None:
    """The page's declared publication time with its time of day, as ISO 8601 in UTC; None without one."""
    naive = None
    for value in _declared(tree):
        when = _timestamp(value)
        if when is None:
            continue
        if when.tzinfo is not None:
            return when.astimezone(UTC).isoformat()
        naive = naive or when.replace(tzinfo=UTC).isoformat()
    return naive


def _declared(tree: HtmlElement) -> Iterator[str]:
    """The publication times the page declares, most trusted first."""
    yield from tree.xpath(_OPEN_GRAPH)
    for script in tree.xpath(_JSON_LD):
        try:
            yield from _json_ld_dates(json.loads(script))
        except (ValueError, RecursionError):  # a broken or absurdly nested block says nothing
            continue
    yield from tree.xpath(_TIME)
    for meta in tree.iter("meta"):
        name = meta.get("name") or meta.get("property") or meta.get("itemprop") or ""
        if name.lower() in _OTHER_META and meta.get("content"):
            yield meta.get("content")


def _json_ld_dates(data: Any) -> Iterator[str]:
    """Every datePublished of a JSON-LD block (objects, lists, @graph), in document order."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("datePublished"), str):
                yield node["datePublished"]
            stack.extend(reversed(list(node.values())))
        elif isinstance(node, list):
            stack.extend(reversed(node))


def _timestamp(value: str) -> datetime | None:
    """An ISO 8601 or RFC 2822 timestamp with a time of day; None for a date alone or an unreadable one."""
    value = value.strip()
    if ":" not in value:  # a date alone: trafilatura's date does as well
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
