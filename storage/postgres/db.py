"""Connecting to a PostgreSQL archive: a pool of connections, the schema migrated on the way in."""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from storage.config import masked
from storage.errors import StorageError
from storage.postgres.schema import migrate

# times read and written in UTC whatever the server's own time zone: a bare date is a UTC day, as on SQLite
OPTIONS = "-c TimeZone=UTC"
# every column of articles but its tsvector: what `SELECT *` gives on SQLite
ARTICLE_COLUMNS = ("id, source, url, canonical_url, guid, title, text, author, published, language, fetched_at,"
                   " full_text, content_hash, story_id, matched_at")


def connect(url: str, *, min_size: int = 1, max_size: int = 4, timeout: float = 30.0) -> ConnectionPool:
    """An open pool of autocommit connections to the archive at `url` (`postgresql://user@host:port/db`),
    its schema migrated. Writes run in `with conn.transaction()`; a connection is waited for up to `timeout`
    seconds. Raises StorageError, with the server's reason, when the archive cannot be reached or migrated.
    """
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=max(int(timeout), 2),
                             options=OPTIONS) as conn:
            migrate(conn)
    except (psycopg.Error, OSError) as exc:
        raise _unopened(url, exc) from exc
    # a statement waiting on another's lock gives up after `timeout`, as SQLite's busy timeout does
    options = f"{OPTIONS} -c lock_timeout={max(int(timeout * 1000), 1)}"
    pool = ConnectionPool(url, min_size=min_size, max_size=max_size, timeout=timeout,
                          kwargs={"autocommit": True, "options": options}, name="veille-archive", open=False)
    try:
        pool.open(wait=True, timeout=timeout)
    except psycopg.Error as exc:  # the pool's own timeout is one too
        pool.close()
        raise _unopened(url, exc) from exc
    return pool


def iso(value: datetime | None) -> str | None:
    """A stored time as the SQLite archive gives it: ISO 8601 in UTC, to the second (None stays None)."""
    return None if value is None else value.replace(microsecond=0).astimezone(UTC).isoformat()


def _unopened(url: str, exc: BaseException) -> StorageError:
    """The error for an archive that cannot be opened: its URL without the password, and the first line
    of the server's or libpq's reason."""
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return StorageError(f"cannot open the archive {masked(url)}: {reason}")


def rows(conn: psycopg.Connection, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[dict[str, Any]]:
    """The rows of a query as dicts, their times as ISO text (as the SQLite archive gives them)."""
    with conn.cursor(row_factory=dict_row) as cursor:
        return [plain(row) for row in cursor.execute(sql, params)]


def plain(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row with its times as ISO text."""
    return {key: iso(value) if isinstance(value, datetime) else value for key, value in row.items()}
