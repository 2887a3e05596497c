"""Full-text search over the archive (SQLite FTS5, accent-insensitive, title weighted)."""

import sqlite3
from typing import Any

import sqlite_utils

from storage.errors import SearchSyntaxError

TITLE_WEIGHT = 10.0


def search(db: sqlite_utils.Database, query: str, *, limit: int = 20, since: str | None = None,
           source: str | None = None, topic: str | None = None) -> list[dict[str, Any]]:
    """Articles matching an FTS5 query (phrases, AND/OR/NOT, prefix*, NEAR), best first.

    `since` is an ISO date or datetime; `source` and `topic` are names from config. Raises
    SearchSyntaxError for a query FTS5 cannot parse.
    """
    where = ["articles_fts MATCH :query"]
    params: dict[str, Any] = {"query": query, "limit": limit, "weight": TITLE_WEIGHT}
    if since:
        where.append("coalesce(a.published, a.fetched_at) >= :since")
        params["since"] = since
    if source:
        where.append("a.source = :source")
        params["source"] = source
    if topic:
        where.append("EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id AND m.topic = :topic)")
        params["topic"] = topic
    sql = f"""
        SELECT a.id, a.url, a.title, a.source, a.published, a.language,
               snippet(articles_fts, 1, '[', ']', '…', 24) AS snippet
        FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid
        WHERE {" AND ".join(where)}
        ORDER BY bm25(articles_fts, :weight, 1.0)
        LIMIT :limit
    """
    try:
        return list(db.query(sql, params))
    except sqlite3.OperationalError as exc:
        message = str(exc)
        if any(sign in message for sign in ("fts5", "syntax error", "no such column", "unterminated")):
            raise SearchSyntaxError(f"cannot read the query {query!r}: {message}") from exc
        raise
