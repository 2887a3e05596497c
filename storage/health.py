"""Per-source health: last attempt, last success, last error, failures in a row, items seen and new.

A success resets the error counter, as in miniflux. A failing source backs off: its next attempt waits
one interval after the first failure, then twice as long after each further one, up to a ceiling. The
conditional-GET validators (ETag, Last-Modified) of each source's own URL are kept here too.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils


def backoff_delay(failures: int, interval: timedelta, ceiling: timedelta) -> timedelta:
    """How long a source that failed `failures` times in a row waits before its next attempt."""
    if failures <= 0:
        return timedelta(0)
    return min(ceiling, interval * 2 ** min(failures - 1, 32))


def record_crawl(db: sqlite_utils.Database, source: str, *, error: str | None, seen: int, new: int,
                 interval: timedelta = timedelta(0), ceiling: timedelta = timedelta(0)) -> None:
    """Record the outcome of one crawl of `source`; on error, when it may be tried again."""
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = now.isoformat()
    with db.atomic():
        db.execute("INSERT OR IGNORE INTO sources (name) VALUES (?)", [source])
        if error:
            failures = 1 + next(iter(db.execute("SELECT consecutive_failures FROM sources WHERE name = ?",
                                                [source]).fetchone()), 0)
            wait = backoff_delay(failures, interval, ceiling)
            db.execute("UPDATE sources SET last_attempt = ?, last_error = ?, consecutive_failures = ?,"
                       " next_attempt = ? WHERE name = ?",
                       [stamp, error, failures, (now + wait).isoformat() if wait else None, source])
        else:
            db.execute("UPDATE sources SET last_attempt = ?, last_success = ?, last_error = NULL,"
                       " consecutive_failures = 0, next_attempt = NULL, items_seen = items_seen + ?,"
                       " items_new = items_new + ? WHERE name = ?", [stamp, stamp, seen, new, source])


def backing_off(db: sqlite_utils.Database, source: str, slack: timedelta = timedelta(0)) -> str | None:
    """The time until which a failing source is skipped, or None when it may be crawled now.

    `slack` lets a scheduled run that fires a little early (jitter, the length of the last crawl) go ahead.
    """
    rows = list(db.query("SELECT next_attempt FROM sources WHERE name = ?", [source]))
    until = rows[0]["next_attempt"] if rows else None
    due_by = (datetime.now(UTC) + slack).replace(microsecond=0).isoformat()
    return until if until and until > due_by else None


def all_sources(db: sqlite_utils.Database) -> dict[str, dict[str, Any]]:
    """The health row of every source crawled at least once, by name."""
    return {row["name"]: row for row in db.query("SELECT * FROM sources ORDER BY name")}


def validators(db: sqlite_utils.Database, source: str) -> dict[str, str]:
    """The ETag and Last-Modified last seen for this source's own URL, to send back on the next crawl."""
    rows = list(db.query("SELECT etag, last_modified FROM sources WHERE name = ?", [source]))
    return {k: v for k, v in (rows[0] if rows else {}).items() if v}


def save_validators(db: sqlite_utils.Database, source: str, etag: str | None, last_modified: str | None) -> None:
    """Remember this source's ETag and Last-Modified."""
    with db.atomic():
        db.execute("INSERT OR IGNORE INTO sources (name) VALUES (?)", [source])
        db.execute("UPDATE sources SET etag = ?, last_modified = ? WHERE name = ?",
                   [etag, last_modified, source])
