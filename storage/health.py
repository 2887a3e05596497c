"""Per-source health: last attempt, last success, last error, failures in a row, items seen and new.

A success resets the error counter, as in miniflux. The conditional-GET validators (ETag,
Last-Modified) of each source's feed are kept here too.
"""

from typing import Any

import sqlite_utils

from storage.db import now_iso


def record_crawl(db: sqlite_utils.Database, source: str, *, error: str | None, seen: int, new: int) -> None:
    """Record the outcome of one crawl of `source`."""
    now = now_iso()
    with db.atomic():
        db.execute("INSERT OR IGNORE INTO sources (name) VALUES (?)", [source])
        if error:
            db.execute("UPDATE sources SET last_attempt = ?, last_error = ?,"
                       " consecutive_failures = consecutive_failures + 1 WHERE name = ?",
                       [now, error, source])
        else:
            db.execute("UPDATE sources SET last_attempt = ?, last_success = ?, last_error = NULL,"
                       " consecutive_failures = 0, items_seen = items_seen + ?, items_new = items_new + ?"
                       " WHERE name = ?", [now, now, seen, new, source])


def all_sources(db: sqlite_utils.Database) -> dict[str, dict[str, Any]]:
    """The health row of every source crawled at least once, by name."""
    return {row["name"]: row for row in db.query("SELECT * FROM sources ORDER BY name")}


def validators(db: sqlite_utils.Database, source: str) -> dict[str, str]:
    """The ETag and Last-Modified last seen for this source's feed, to send back on the next crawl."""
    rows = list(db.query("SELECT etag, last_modified FROM sources WHERE name = ?", [source]))
    return {k: v for k, v in (rows[0] if rows else {}).items() if v}


def save_validators(db: sqlite_utils.Database, source: str, etag: str | None, last_modified: str | None) -> None:
    """Remember this source's ETag and Last-Modified."""
    with db.atomic():
        db.execute("INSERT OR IGNORE INTO sources (name) VALUES (?)", [source])
        db.execute("UPDATE sources SET etag = ?, last_modified = ? WHERE name = ?",
                   [etag, last_modified, source])
