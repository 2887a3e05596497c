"""What the web UI (Datasette, `veille serve`) may do with the archive's own connections.

Datasette opens the SQLite file itself; its plugins hand each connection here: the authorizer that lets SQL read
the analysts' tables only, and `escape_fts` compiled from the topics' language (storage.fts_query).
"""

from typing import Any

from storage.errors import SearchSyntaxError
from storage.fts_query import fts_query

# what analysts read: articles (and so stories), their sources and URLs, matches, the feeds' health, and what
# they keep at the desk (storage.curation: the desk's own writes go to these tables alone)
CURATION_TABLES = frozenset({"curation_stars", "curation_tags", "curation_notes"})
PUBLIC_TABLES = frozenset({"articles", "articles_explore", "article_sources", "article_urls", "matches",
                           "sources"}) | CURATION_TABLES
# the full-text index of articles (read by every search), the schema, table-valued functions
READABLE = PUBLIC_TABLES | {"articles_fts", "articles_fts_data", "articles_fts_idx", "articles_fts_docsize",
                            "articles_fts_config", "sqlite_master", "sqlite_schema", "sqlite_temp_master",
                            "sqlite_temp_schema", "json_each", "json_tree"}


def readable(table: str) -> bool:
    """Whether SQL may read this table when internal tables are hidden."""
    table = table.lower()
    return table in READABLE or table.startswith("pragma_")  # pragma_table_info() and friends: the schema


def authorize(action: int, arg1: str | None, arg2: str | None, _db: str | None, _source: str | None) -> int:
    """SQLite's authorizer: reads of public tables only, no ATTACH, no file path, no links to internal tables."""
    import sqlite3

    if action == sqlite3.SQLITE_READ:
        return sqlite3.SQLITE_OK if readable(arg1 or "") else sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_ATTACH:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and (
            arg1 == "database_list" or (arg1 == "foreign_key_list" and not readable(arg2 or ""))):
        # no rows rather than an error: Datasette asks both itself; the first holds the archive's path, the
        # second would make an article's page count (and fail on) its rows in the outbox
        return sqlite3.SQLITE_IGNORE
    return sqlite3.SQLITE_OK


def hide_internal_tables(conn: Any) -> None:
    """This connection (a sqlite3 one, from Datasette) reads the public tables only, whatever the SQL."""
    conn.set_authorizer(authorize)


def _compiled(query: str) -> str:
    """The FTS5 string of a query; one that matches nothing when it cannot be read (refused before it runs)."""
    try:
        return fts_query(query) if query.strip() else '""'
    except SearchSyntaxError:
        return '""'


def search_in_topics_language(conn: Any) -> None:
    """On this connection, `escape_fts(q)` (what Datasette's search box runs) compiles q from the topics'
    language."""
    conn.create_function("escape_fts", 1, _compiled, deterministic=True)
