"""Reading matches back: the stories most recently matched, for the bot's /latest."""

from typing import Any

import sqlite_utils


def latest(db: sqlite_utils.Database, topic: str | None = None, limit: int = 5) -> list[dict[str, Any]]:
    """The last `limit` stories matched (by any topic, or by `topic`), newest first, one article per story.

    Each row holds the article's url, title, source, published (or fetched_at) and `topics`, the
    comma-separated topics it matched.
    """
    return list(db.query(
        """
        SELECT a.id, coalesce(nullif(a.canonical_url, ''), a.url) AS url, a.title, a.source,
               coalesce(a.published, a.fetched_at) AS published,
               group_concat(m.topic, ', ') AS topics
        FROM articles a JOIN matches m ON m.article_id = a.id
        WHERE (:topic IS NULL OR m.topic = :topic)
          AND a.id IN (SELECT max(a2.id) FROM articles a2 JOIN matches m2 ON m2.article_id = a2.id
                       WHERE (:topic IS NULL OR m2.topic = :topic) GROUP BY coalesce(a2.story_id, a2.id))
        GROUP BY a.id
        ORDER BY coalesce(a.published, a.fetched_at) DESC, a.id DESC
        LIMIT :limit
        """, {"topic": topic, "limit": limit}))
