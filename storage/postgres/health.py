"""Per-source health on PostgreSQL, as storage.health keeps it on SQLite: a success resets the error
counter, a failing source backs off (storage.health.backoff_delay), validators of each source's own URL."""

from datetime import timedelta
from typing import Any

import psycopg

from storage.health import backoff_delay
from storage.postgres.db import iso, rows


def record_crawl(conn: psycopg.Connection, source: str, *, error: str | None, seen: int, new: int,
                 interval: timedelta = timedelta(0), ceiling: timedelta = timedelta(0)) -> None:
    """Record the outcome of one crawl of `source`; on error, when it may be tried again."""
    conn.execute("INSERT INTO sources (name) VALUES (%s) ON CONFLICT DO NOTHING", [source])
    if not error:
        conn.execute("UPDATE sources SET last_attempt = date_trunc('second', now()), last_success ="
                     " date_trunc('second', now()), last_error = NULL, consecutive_failures = 0, next_attempt = NULL,"
                     " items_seen = items_seen + %s, items_new = items_new + %s WHERE name = %s",
                     [seen, new, source])
        return
    row = conn.execute("SELECT consecutive_failures FROM sources WHERE name = %s FOR UPDATE", [source]).fetchone()
    failures = 1 + (row[0] if row else 0)
    wait = backoff_delay(failures, interval, ceiling)
    conn.execute("UPDATE sources SET last_attempt = date_trunc('second', now()), last_error = %s,"
                 " consecutive_failures = %s, next_attempt = CASE WHEN %s THEN date_trunc('second', now()) + %s END"
                 " WHERE name = %s", [error, failures, bool(wait), wait, source])


def backing_off(conn: psycopg.Connection, source: str, slack: timedelta = timedelta(0)) -> str | None:
    """The time until which a failing source is skipped, or None when it may be crawled now; `slack` lets
    a scheduled run that fires a little early go ahead."""
    row = conn.execute("SELECT next_attempt FROM sources WHERE name = %s AND next_attempt > now() + %s",
                       [source, slack]).fetchone()
    return iso(row[0]) if row else None


def all_sources(conn: psycopg.Connection) -> dict[str, dict[str, Any]]:
    """The health row of every source crawled at least once, by name."""
    return {row["name"]: row for row in rows(conn, "SELECT * FROM sources ORDER BY name")}


def validators(conn: psycopg.Connection, source: str) -> dict[str, str]:
    """The ETag and Last-Modified last seen for this source's own URL, to send back on the next crawl."""
    found = rows(conn, "SELECT etag, last_modified FROM sources WHERE name = %s", [source])
    return {key: value for key, value in (found[0] if found else {}).items() if value}


def save_validators(conn: psycopg.Connection, source: str, etag: str | None, last_modified: str | None) -> None:
    """Remember this source's ETag and Last-Modified."""
    conn.execute("INSERT INTO sources (name, etag, last_modified) VALUES (%s, %s, %s) ON CONFLICT (name)"
                 " DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified",
                 [source, etag, last_modified])
