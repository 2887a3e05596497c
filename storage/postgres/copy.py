"""`veille archive copy --to postgresql://...`: an SQLite archive moved into an empty PostgreSQL one.

Every table the two schemas share is copied with PostgreSQL's COPY, in one transaction (a copy cut short
leaves the target empty), ids kept (stories, outbox rows and matches keep pointing at the same articles), the
identity sequences moved past them; then each table's rows are counted on both sides, and any difference is
an error. The full-text index is PostgreSQL's own (a generated column), so it is not copied but made.
"""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg

from storage.db import connect as connect_sqlite
from storage.errors import StorageError, translated
from storage.postgres.db import connect
from storage.postgres.errors import storage_error

# parents first: articles before what points at them
TABLES = ("articles", "article_sources", "article_urls", "matches", "outbox", "sources", "chats", "subscriptions",
          "chat_migrations", "topic_rules", "story_signatures", "story_bands", "story_settings", "story_paragraphs")
IDENTITIES = ("articles", "outbox")
BATCH = 5000


def copy_archive(source: Path, url: str, *, said: Callable[[str, int], None] = lambda table, n: None
                 ) -> dict[str, int]:
    """Copy the SQLite archive at `source` into the empty PostgreSQL archive at `url`; the rows per table.

    StorageError when the source cannot be read, the target is not empty, or the counts differ.
    """
    if not source.exists():
        raise StorageError(f"no archive at {source}")
    lite = connect_sqlite(source, readonly=True)
    pool = connect(url)
    try:
        with pool.connection() as conn:
            if conn.execute("SELECT EXISTS (SELECT 1 FROM articles)").fetchone()[0]:  # type: ignore[index]
                raise StorageError("the PostgreSQL archive already holds articles: copy into an empty one")
            copied: dict[str, int] = {}
            try:
                with conn.transaction():
                    for table in TABLES:
                        copied[table] = _copy_table(lite, conn, table)
                        said(table, copied[table])
                    for table in IDENTITIES:
                        conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                                     f" coalesce((SELECT max(id) FROM {table}), 0) + 1, false)")
                    _verify(lite, conn, copied)
                conn.execute("ANALYZE")  # statistics now, not at autovacuum's leisure: search plans by them
            except psycopg.Error as exc:
                raise storage_error(exc) from exc
            return copied
    finally:
        pool.close()
        lite.close()


def _columns(conn: psycopg.Connection, table: str) -> list[str]:
    """The columns of a PostgreSQL table that can be written (not generated ones)."""
    return [r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND is_generated = 'NEVER'"
        " ORDER BY ordinal_position", [table])]


def _copy_table(lite: Any, conn: psycopg.Connection, table: str) -> int:
    with translated():
        there = [r[1] for r in lite.execute(f"PRAGMA table_info({table})")]
    if not there:  # an archive older than this table
        return 0
    columns = [c for c in _columns(conn, table) if c in there]
    names = ", ".join(columns)
    count = 0
    with conn.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in _rows(lite, f"SELECT {names} FROM {table}"):
            copy.write_row([v if v is None or isinstance(v, bytes) else str(v) for v in row])
            count += 1
    return count


def _rows(lite: Any, sql: str) -> Iterator[tuple[Any, ...]]:
    with translated():
        cursor = lite.execute(sql)
        while batch := cursor.fetchmany(BATCH):
            yield from batch


def _verify(lite: Any, conn: psycopg.Connection, copied: dict[str, int]) -> None:
    """Each table's rows counted on both sides: equal, or StorageError naming the table."""
    for table, n in copied.items():
        with translated():
            here = lite.execute(f"SELECT count(*) FROM {table}").fetchone()[0] if n else 0
        there = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
        if not here == there == n:
            raise StorageError(f"{table}: {here} rows in the SQLite archive, {there} copied: nothing was kept")
