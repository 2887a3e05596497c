"""Full-text search over a PostgreSQL archive: `articles.search @@ tsquery`, found among the newest articles
(tested one by one for a frequent word), then through its GIN index (see `newest`).

Hits are ranked by ts_rank_cd (cover density: how close together the query's words are), where a title
word (weights A and C) counts 1.0 and a text word (B and D) 0.4, or sorted newest first; one result per story
(its best copy) unless `all_copies`. Snippets are ts_headline's, over the words as written, computed for
the results only.

Ranking a hit reads its whole tsvector, so ranking every hit of a frequent word costs time in proportion to
the archive. As on SQLite (storage.search), only the newest `window` hits passing the filters are ranked or
sorted; when they yield fewer results than asked, the window is widened until every hit has been seen, so
a rare word is ranked over the whole archive, as before.
"""

import contextlib
from collections.abc import Iterator
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

from storage.errors import SearchSyntaxError
from storage.postgres.db import iso, plain
from storage.postgres.tsquery import tsquery
from storage.search import FIRST_WINDOW

MARK_START, MARK_END, ELLIPSIS = "[", "]", "…"
HEADLINE = (f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=24, MinWords=10, MaxFragments=2, "
            f"FragmentDelimiter=\" {ELLIPSIS} \"")
DATE = "coalesce(a.published, a.fetched_at)"

RANK_WEIGHTS = "{0.4, 1.0, 0.4, 1.0}"  # ts_rank_cd's weights of D, C, B, A: a title word 1.0, a text word 0.4
# how many distinct sources carried a chosen story, over every copy of it
OUTLETS = """(SELECT count(DISTINCT s.source) FROM articles copy JOIN article_sources s ON s.article_id = copy.id
              WHERE copy.story_id = chosen.story_id OR copy.id = chosen.story_id)"""
Sort = Literal["relevance", "date"]
RECENT = 20  # hits are first looked for among the newest window × RECENT articles (`newest`)
WALK = 8  # then by walking further back, when that fills the window within WALK times as many articles


def search(conn: psycopg.Connection, query: str, *, limit: int = 20, all_copies: bool = False,
           sort: Sort = "relevance", **filters: str | None) -> list[dict[str, Any]]:
    """Articles matching a query in the topics' language, best or newest first, each with its `snippet`;
    one per story with `outlets` (the number of sources that carried it) unless `all_copies`.

    Filters as on SQLite (storage.search.Filters): since, until (a bare date is the whole day), source, topic,
    lang (`fr` is also `fr-CA`). Raises SearchSyntaxError for a query that cannot be read.
    """
    window = max(FIRST_WINDOW, limit)
    try:
        q = resolved(conn, query)
    except psycopg.errors.SyntaxError as exc:  # a tsquery PostgreSQL refuses: a bug here, said plainly
        raise SearchSyntaxError(f"cannot search for {query!r}: {str(exc).splitlines()[0]}") from exc
    while True:
        ids = newest(conn, q, window, **filters)
        sql, params = statement(q, ids, limit=limit, all_copies=all_copies, sort=sort)
        with conn.cursor(row_factory=dict_row) as cursor:
            rows = cursor.execute(sql, params, prepare=False).fetchall()
        if len(rows) >= limit or len(ids) < window:
            break
        window *= 8
    for row in rows:
        if all_copies:
            del row["outlets"]
    return [{**row, "published": iso(row["published"])} for row in rows]


def where(since: str | None = None, until: str | None = None, source: str | None = None,
          topic: str | None = None, lang: str | None = None) -> tuple[list[str], list[Any]]:
    """SQL conditions on `a` (articles) for these filters, and their parameters in order."""
    conditions: list[tuple[str, list[Any]]] = [
        (f"{DATE} >= %s::timestamptz", [since]),
        (f"{DATE} < %s::date + 1" if until and len(until) == 10 else f"{DATE} < %s::timestamptz", [until]),
        ("a.source = %s", [source]),
        ("EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id AND m.topic = %s)", [topic]),
        ("(a.language = %s OR a.language LIKE %s || '-%%')", [lang, lang]),
    ]
    chosen = [(sql, values) for sql, values in conditions if values[0]]
    return [sql for sql, _ in chosen], [value for _, values in chosen for value in values]


def resolved(conn: psycopg.Connection, query: str) -> str:
    """The query as a tsquery's text, made by the server (its dictionaries stem and fold the words)."""
    q = tsquery(query)
    row = conn.execute(f"SELECT ({q.sql})::text", q.params).fetchone()
    return str(row[0]) if row else ""


def newest(conn: psycopg.Connection, q: str, window: int, **filters: str | None) -> list[int]:
    """The ids of the newest `window` articles matching the tsquery `q` (`resolved`) and the filters, newest
    first.

    The planner's guess of how many articles hold a query's words is poor for rare words (it has a floor: half
    a percent for a prefix) and for phrases and NOT (the index finds articles with the words, not the phrase):
    trusted, it walks a million articles for a rare word, or rechecks hundreds of thousands of candidates for
    a phrase. So the hits are looked for in three steps, each bounded:
    1. among the newest `window × RECENT` articles, tested one by one or found through the index, whichever
       the planner finds cheaper: a frequent word fills the window there in milliseconds at 1M articles;
    2. if the share of those that matched says a walk further back fills the window within `WALK` times
       as many articles, that walk (the articles tested one by one, newest first);
    3. what is still missing, through the GIN index only.
    """
    conditions, values = where(**filters)
    row = conn.execute("SELECT coalesce(max(id), 0) FROM articles").fetchone()
    span = window * RECENT
    edge = int(row[0] if row else 0) - span
    found = _ids(conn, *hits_statement(q, ["a.id > %s", *conditions], [edge, *values], window))
    need = window - len(found)
    if need > 0 and edge > 0 and found and (reach := 2 * need * span // len(found)) <= span * WALK:
        with planned(conn, "enable_bitmapscan"):
            found += _ids(conn, *hits_statement(q, ["a.id <= %s", "a.id > %s", *conditions],
                                                [edge, edge - reach, *values], need))
        edge -= reach
        need = window - len(found)
    if need > 0 and edge > 0:
        with planned(conn, "enable_indexscan"):
            found += _ids(conn, *hits_statement(q, ["a.id <= %s", *conditions], [edge, *values], need))
    return found


def hits_statement(q: str, conditions: list[str], values: list[Any], limit: int) -> tuple[str, list[Any]]:
    """The SQL of the newest `limit` hits of `q` under these conditions, and its parameters."""
    sql = (f"SELECT a.id FROM articles a WHERE {' AND '.join(['a.search @@ %s::tsquery', *conditions])}"
           " ORDER BY a.id DESC LIMIT %s")
    return sql, [q, *values, limit]


def _ids(conn: psycopg.Connection, sql: str, params: list[Any]) -> list[int]:
    # planned with its tsquery, never as a generic plan (prepare=False)
    return [article_id for (article_id,) in conn.execute(sql, params, prepare=False)]


@contextlib.contextmanager
def planned(conn: psycopg.Connection, setting: str) -> Iterator[None]:
    """Within: the planner without one way of finding rows: `enable_indexscan` (hits through an index's
    bitmap, never by walking the primary key) or `enable_bitmapscan` (the other way round)."""
    conn.execute(f"SET {setting} = off")
    try:
        yield
    finally:
        conn.execute(f"RESET {setting}")


def statement(q: str, ids: list[int], *, limit: int, all_copies: bool = False, sort: Sort = "relevance"
              ) -> tuple[str, list[Any]]:
    """The SQL of a search for the tsquery `q` over the hits `ids` (`newest`), and its parameters: the hits
    ranked, the chosen few shown."""
    order = "rank DESC, id DESC" if sort == "relevance" else "date DESC, id DESC"
    best = f"SELECT DISTINCT ON (story_id) * FROM hits ORDER BY story_id, {order}"  # the best copy of a story
    sql = f"""
        WITH q AS (SELECT %s::tsquery AS q),
        hits AS (SELECT a.id, coalesce(a.story_id, a.id) AS story_id, {DATE} AS date,
                        ts_rank_cd(%s::real[], a.search, q.q) AS rank
                 FROM unnest(%s::bigint[]) AS newest(id) JOIN articles a ON a.id = newest.id, q),
        chosen AS (SELECT * FROM ({"SELECT * FROM hits" if all_copies else best}) c ORDER BY {order} LIMIT %s)
        SELECT a.id, coalesce(nullif(a.canonical_url, ''), a.url) AS url, a.title, a.source, a.published,
               a.language, chosen.story_id, ts_headline('veille_simple', a.text, q.q, %s) AS snippet,
               {"NULL" if all_copies else OUTLETS} AS outlets
        FROM chosen JOIN articles a ON a.id = chosen.id, q
        ORDER BY {"chosen.rank" if sort == "relevance" else "chosen.date"} DESC, a.id DESC
    """
    return sql, [q, RANK_WEIGHTS, ids, limit, HEADLINE]


def search_all(conn: psycopg.Connection, query: str, *, sort: Sort = "relevance",
               **filters: str | None) -> Iterator[dict[str, Any]]:
    """Every article matching the query (or every article, for an empty query), for exports."""
    conditions, values = where(**filters)
    order, ranking = f"{DATE} DESC, a.id DESC", []
    if query.strip():
        q = tsquery(query)
        conditions, values = [f"a.search @@ {q.sql}", *conditions], [*q.params, *values]
        if sort == "relevance":
            order, ranking = f"ts_rank_cd(%s::real[], a.search, {q.sql}) DESC, a.id DESC", [RANK_WEIGHTS, *q.params]
    sql = f"""SELECT a.id, coalesce(nullif(a.canonical_url, ''), a.url) AS url, a.title, a.source, a.published,
                     a.language, a.story_id, a.author, a.text
              FROM articles a {"WHERE " + " AND ".join(conditions) if conditions else ""} ORDER BY {order}"""
    with conn.cursor(row_factory=dict_row) as cursor:
        yield from map(plain, cursor.execute(sql, [*values, *ranking]))


def known_names(conn: psycopg.Connection) -> tuple[set[str], set[str]]:
    """The sources and topics the archive holds articles of (a search may name one no longer in config)."""
    sources = {name for (name,) in conn.execute("SELECT DISTINCT source FROM article_sources")}
    topics = {name for (name,) in conn.execute("SELECT DISTINCT topic FROM matches")}
    return sources, topics
