"""Reading matches back on PostgreSQL (storage.matches): the stories most recently matched, for /latest."""

from typing import Any

import psycopg

from storage.postgres.db import rows


def latest(conn: psycopg.Connection, topic: str | None = None, limit: int = 5) -> list[dict[str, Any]]:
    """The last `limit` stories matched (by any topic, or by `topic`), newest first, one article per story,
    each with url, title, source, published (or fetched_at) and `topics`, comma-separated."""
    return rows(conn, """
        SELECT a.id, coalesce(nullif(a.canonical_url, ''), a.url) AS url, a.title, a.source,
               coalesce(a.published, a.fetched_at) AS published, string_agg(m.topic, ', ') AS topics
        FROM articles a JOIN matches m ON m.article_id = a.id
        WHERE (%(topic)s::text IS NULL OR m.topic = %(topic)s)
          AND a.id IN (SELECT max(a2.id) FROM articles a2 JOIN matches m2 ON m2.article_id = a2.id
                       WHERE (%(topic)s::text IS NULL OR m2.topic = %(topic)s) GROUP BY coalesce(a2.story_id, a2.id))
        GROUP BY a.id
        ORDER BY coalesce(a.published, a.fetched_at) DESC, a.id DESC
        LIMIT %(limit)s""", {"topic": topic, "limit": limit})
