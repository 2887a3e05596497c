"""What every kind of source yields: entries, each an article link with what the source says of it."""

import calendar
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from w3lib.html import remove_tags, replace_entities


@dataclass(frozen=True)
class Entry:
    """One entry of a feed, listing page or sitemap: its link and what the source says of it."""

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


def iso_from_text(value: object) -> str | None:
    """An ISO 8601 / RFC 3339 date or datetime string as ISO 8601 in UTC; None when unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat()


def has_time_of_day(published: str) -> bool:
    """Whether an ISO 8601 date says its time of day: a date alone does not, nor midnight UTC (what
    iso_from_text makes of a date alone, as a sitemap's <lastmod>2026-12-02</lastmod>)."""
    return "T" in published and not published.endswith("T00:00:00+00:00")


# before any news site: a feed dated earlier than this carries a zero or placeholder date (1970-01-01)
EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)


def plausible_date(published: str | None, now: datetime) -> str | None:
    """A published date fit to sort by: None when unreadable or earlier than EARLIEST (a zeroed date, so
    that the page's own date or the fetch time stands in), and a date in the future clamped to `now`, the
    fetch time, so that it never sorts above the news that comes after it."""
    if not published:
        return None
    try:
        when = datetime.fromisoformat(published)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if when < EARLIEST:
        return None
    return min(when, now.replace(microsecond=0)).astimezone(UTC).isoformat()


def html_to_text(html: str) -> str:
    """Plain text from a feed's HTML summary or content."""
    return " ".join(replace_entities(remove_tags(html)).split())
