"""Attention over time on PostgreSQL (storage.trends): stories per period per topic, for `veille trends`."""

from typing import Any

import psycopg

from storage.trends import Period

TRENDS_SQL = """
SELECT m.topic, to_char(date_trunc(%(by)s, coalesce(a.published, a.fetched_at)), 'YYYY-MM-DD') AS period,
       count(DISTINCT coalesce(a.story_id, a.id))
FROM matches m JOIN articles a ON a.id = m.article_id
WHERE m.topic = ANY(%(topics)s)
  AND (%(since)s::timestamptz IS NULL OR coalesce(a.published, a.fetched_at) >= %(since)s::timestamptz)
GROUP BY 1, 2 ORDER BY 2, 1
"""


def series(conn: psycopg.Connection, topics: list[str], *, since: str | None = None,
           by: Period = "week") -> dict[str, dict[str, int]]:
    """For each topic, the number of stories per period start (ISO date; a week starts on Monday), empty
    periods as 0."""
    params: dict[str, Any] = {"by": by, "topics": topics, "since": since}
    out: dict[str, dict[str, int]] = {t: {} for t in topics}
    for topic, period, count in conn.execute(TRENDS_SQL, params):
        out[topic][period] = count
    periods = sorted({p for counts in out.values() for p in counts})
    return {t: {p: counts.get(p, 0) for p in periods} for t, counts in out.items()}
