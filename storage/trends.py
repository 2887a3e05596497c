"""Attention over time: articles per period per topic, the series behind `veille trends` and the web UI.

The same SQL is shipped as a Datasette canned query, so the chart and the web UI never disagree.
"""

from typing import Any, Literal

import sqlite_utils

Period = Literal["day", "week", "month", "year"]

# SQLite expressions giving the first day of the period holding the date `d`.
PERIOD_START: dict[str, str] = {
    "day": "date(d)",
    "week": "date(d, 'weekday 0', '-6 days')",   # the Monday of that week
    "month": "strftime('%Y-%m-01', d)",
    "year": "strftime('%Y-01-01', d)",
}

TRENDS_SQL = """
SELECT m.topic AS topic, {period} AS period, count(DISTINCT coalesce(a.story_id, a.id)) AS articles
FROM matches m
JOIN (SELECT id, story_id, coalesce(published, fetched_at) AS d FROM articles) a ON a.id = m.article_id
WHERE m.topic IN ({topics}) AND (:since IS NULL OR a.d >= :since)
GROUP BY m.topic, period ORDER BY period, m.topic
"""


def series(db: sqlite_utils.Database, topics: list[str], *, since: str | None = None,
           by: Period = "week") -> dict[str, dict[str, int]]:
    """For each topic, the number of stories per period start (ISO date), empty periods as 0."""
    names = {f"t{i}": t for i, t in enumerate(topics)}
    sql = TRENDS_SQL.format(period=PERIOD_START[by], topics=",".join(f":{k}" for k in names))
    params: dict[str, Any] = {"since": since, **names}
    out: dict[str, dict[str, int]] = {t: {} for t in topics}
    for row in db.query(sql, params):
        out[row["topic"]][row["period"]] = row["articles"]
    periods = sorted({p for counts in out.values() for p in counts})
    return {t: {p: counts.get(p, 0) for p in periods} for t, counts in out.items()}
