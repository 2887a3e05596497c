"""Full-text search over the archive (SQLite FTS5, accent-insensitive, title weighted), one result per story.

Ranking every hit with bm25 costs time in proportion to the number of hits (about a second for a word found
in most of a million articles). A news archive is read newest first, so the search looks at the newest hits
first: FTS5 walks its index in rowid (arrival) order and stops after `window` hits that pass the filters;
only those are ranked (bm25, title weighted) or sorted by date. When that window yields fewer stories than
asked, it is widened until every hit has been seen, so a rare term is ranked over the whole archive.

bm25 counts the articles holding each phrase of the query over the whole archive, which for a phrase of
several words, a NEAR group or a prefix without a prefix index means checking every article that holds its
words. Such queries are ranked by the same formula computed here over the window's hits (see _rank_window).
"""

import math
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import sqlite_utils

from storage.errors import SearchSyntaxError
from storage.fts_query import fts_query
from storage.text import words

TITLE_WEIGHT = 10.0
FIRST_WINDOW = 1000
BOUND_SCAN = 5_000  # a date range holding fewer articles than this bounds the rowids searched
SNIPPET_RANGE = 5_000  # hits within this many rowids get their snippets from one statement
MARK_START, MARK_END, ELLIPSIS = "[", "]", "…"
K1, B = 1.2, 0.75  # bm25's constants, as FTS5 sets them
PREFIX_LENGTHS = range(3, 9)  # the prefix indexes of articles_fts (migration 9)
HIT = re.compile("\x01(.*?)\x02", re.S)
DATE = "coalesce(a.published, a.fetched_at)"
SHOWN_URL = "coalesce(nullif({t}.canonical_url, ''), {t}.url)"  # the link shown: clean of utm_source and the like

Sort = Literal["relevance", "date"]


@dataclass(frozen=True)
class Filters:
    """What a search is restricted to: dates are ISO dates or datetimes, names are from config."""

    since: str | None = None
    until: str | None = None
    source: str | None = None
    topic: str | None = None
    lang: str | None = None

    def where(self) -> tuple[list[str], dict[str, Any]]:
        """SQL conditions on `a` (articles) and their parameters."""
        where: list[str] = []
        params: dict[str, Any] = {}
        if self.since:
            where.append(f"{DATE} >= :since")
            params["since"] = self.since
        if self.until:
            # a bare date means the whole day
            where.append(f"{DATE} < :until_end")
            params["until_end"] = self.until + ("T99" if len(self.until) == 10 else "")
        if self.source:
            where.append("a.source = :source")
            params["source"] = self.source
        if self.topic:
            where.append("EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id AND m.topic = :topic)")
            params["topic"] = self.topic
        if self.lang:
            where.append("(a.language = :lang OR a.language LIKE :lang || '-%')")
            params["lang"] = self.lang
        return where, params


def search(db: sqlite_utils.Database, query: str, *, limit: int = 20, since: str | None = None,
           until: str | None = None, source: str | None = None, topic: str | None = None,
           lang: str | None = None, sort: Sort = "relevance", all_copies: bool = False) -> list[dict[str, Any]]:
    """Articles matching a query in the topics' language (storage.fts_query), best first or newest first.

    One result per story (its best-ranked copy) with `outlets`, the number of sources that carried the
    story, unless `all_copies`. Raises SearchSyntaxError for a query FTS5 cannot parse.
    """
    _check(query)
    query = fts_query(query)
    filters = Filters(since, until, source, topic, lang)
    window = max(FIRST_WINDOW, limit)
    while True:
        hits = _ranked_hits(db, query, filters, sort, window)
        chosen = hits if all_copies else _one_per_story(hits)
        if len(chosen) >= limit or len(hits) < window:
            break
        window *= 8
    results = _present(db, query, chosen[:limit])
    if not all_copies:
        outlets = _outlets(db, [r["story_id"] for r in results])
        for r in results:
            r["outlets"] = outlets.get(r["story_id"], 1)
    return results


def search_all(db: sqlite_utils.Database, query: str, *, sort: Sort = "relevance",
               **filters: str | None) -> Iterator[dict[str, Any]]:
    """Every article matching the query (or every article, for an empty query), for exports."""
    if query.strip():
        query = fts_query(query)
    where, params = Filters(**filters).where()
    if query.strip():
        where.insert(0, "articles_fts MATCH :query")
        params.update(query=query, weight=TITLE_WEIGHT)
        source = "articles_fts CROSS JOIN articles a ON a.id = articles_fts.rowid"
        order = "bm25(articles_fts, :weight, 1.0)" if sort == "relevance" else f"{DATE} DESC"
    else:
        source, order = "articles a", f"{DATE} DESC"
    sql = f"""SELECT a.id, {SHOWN_URL.format(t="a")} AS url, a.title, a.source, a.published, a.language,
                     a.story_id, a.author, a.text
              FROM {source} {"WHERE " + " AND ".join(where) if where else ""} ORDER BY {order}"""
    try:
        yield from db.query(sql, params)
    except sqlite3.OperationalError as exc:
        raise _syntax_error(query, exc) from exc


def _check(query: str) -> None:
    if not query.strip():
        raise SearchSyntaxError("the query is empty: give a word, a \"phrase\", or terms joined by AND/OR/NOT")


def _ranked_hits(db: sqlite_utils.Database, query: str, filters: Filters, sort: Sort,
                 window: int) -> list[dict[str, Any]]:
    """The newest `window` hits passing the filters, ranked. CROSS JOIN keeps FTS5 as the outer loop,
    so that it walks its index in rowid order and stops at the window; articles_meta holds every column
    read here, so the articles' text is never read."""
    where, params = filters.where()
    bounds, bound_params = _rowid_bounds(db, filters)
    where += bounds
    params.update(query=query, window=window, weight=TITLE_WEIGHT, **bound_params)
    # bm25 counts every article holding each phrase (its IDF): a full pass, paid only to rank by it
    own = sort == "relevance" and _costly_to_rank(query)
    rank, order = (("bm25(articles_fts, :weight, 1.0)", "rank, id DESC") if sort == "relevance" and not own
                   else ("0", "id DESC") if own else ("0", "date DESC, id DESC"))
    marked = (", highlight(articles_fts, 0, char(1), char(2)) AS title_hits"
              ", highlight(articles_fts, 1, char(1), char(2)) AS text_hits") if own else ""
    sql = f"""
        SELECT * FROM (
            SELECT a.id, a.story_id, {DATE} AS date, {rank} AS rank{marked}
            FROM articles_fts CROSS JOIN articles a INDEXED BY articles_meta ON a.id = articles_fts.rowid
            WHERE {" AND ".join(["articles_fts MATCH :query", *where])}
            ORDER BY articles_fts.rowid DESC LIMIT :window
        ) ORDER BY {order}
    """
    hits: list[dict[str, Any]] = _guarded(query, lambda: list(db.query(sql, params)))
    if own:
        _rank_window(hits)
        hits.sort(key=lambda hit: (hit["rank"], -hit["id"]))
    return hits


def _costly_to_rank(query: str) -> bool:
    """Whether bm25 would pay a pass over the whole archive to count the articles holding a phrase of this
    query: a quoted phrase of several words, a NEAR group, or a prefix the index holds no prefix list for."""
    prefixes = re.findall(r'"(\w+)"\*', query)
    return ("NEAR(" in query or '" + "' in query or any(len(p) not in PREFIX_LENGTHS for p in prefixes))


def _rank_window(hits: list[dict[str, Any]]) -> None:
    """Give each hit a rank (lower is better) from the phrases FTS5 marked in its title and text.

    FTS5's bm25 formula (title weighted, saturating term counts, shorter articles first), except that
    how rare each matched phrase is (its IDF) is counted among the window's hits, not over the archive.
    A query of one phrase ranks the same either way: its IDF is common to every hit.
    """
    found: list[dict[str, float]] = []
    lengths: list[int] = []
    for hit in hits:
        title, text = hit.pop("title_hits") or "", hit.pop("text_hits") or ""
        counts: dict[str, float] = defaultdict(float)
        for phrase in HIT.findall(title):
            counts[_fold(phrase)] += TITLE_WEIGHT
        for phrase in HIT.findall(text):
            counts[_fold(phrase)] += 1.0
        found.append(counts)
        lengths.append(title.count(" ") + text.count(" ") + 2)
    if not hits:
        return
    holding = Counter(phrase for counts in found for phrase in counts)
    idf = {p: math.log(1 + (len(hits) - n + 0.5) / (n + 0.5)) for p, n in holding.items()}
    average = sum(lengths) / len(lengths)
    for hit, counts, length in zip(hits, found, lengths, strict=True):
        norm = K1 * (1 - B + B * length / average)
        hit["rank"] = -sum(idf[p] * f * (K1 + 1) / (f + norm) for p, f in counts.items())


def _fold(phrase: str) -> str:
    """A marked phrase's folded words: its spellings (cœur, coeur) count as one phrase."""
    return " ".join(words(phrase))


def _rowid_bounds(db: sqlite_utils.Database, filters: Filters) -> tuple[list[str], dict[str, Any]]:
    """Rowid limits implied by a date filter covering few articles, so FTS5 skips the rest of its index.

    Exact whatever the arrival order: the lowest (highest) id among the articles dated in range. Found
    through the date index, and only when the range is small; a wide range needs no help, as the window
    then fills quickly.
    """
    where, params = [], {}
    for name, condition, bound, op in (("since", f"{DATE} >= :since", "min", ">="),
                                       ("until", f"{DATE} < :until_end", "max", "<=")):
        if getattr(filters, name) is None:
            continue
        _, filter_params = Filters(**{name: getattr(filters, name)}).where()
        found, count = db.execute(
            f"SELECT {bound}(id), count(*) FROM (SELECT a.id FROM articles a WHERE {condition} LIMIT :cap)",
            {**filter_params, "cap": BOUND_SCAN}).fetchone()
        if count < BOUND_SCAN:
            where.append(f"articles_fts.rowid {op} :{name}_rowid")
            params[f"{name}_rowid"] = found if found is not None else (-1 if op == "<=" else 2**62)
    return where, params


def _one_per_story(hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[int] = set()
    best = []
    for hit in hits:
        story = hit["story_id"] if hit["story_id"] is not None else hit["id"]
        if story not in seen:
            seen.add(story)
            best.append(hit)
    return best


def _present(db: sqlite_utils.Database, query: str, hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The articles behind these hits, in their order, each with a snippet of its text (the title is shown anyway).

    Hits close together are read in one statement over their rowid range: FTS5 sets a query up again for
    every statement (for a prefix query, merging the lists of every word it expands to).
    """
    if not hits:
        return []
    ids = [hit["id"] for hit in hits]
    marks = ",".join("?" * len(ids))
    snippet = f"snippet(articles_fts, 1, '{MARK_START}', '{MARK_END}', '{ELLIPSIS}', 24)"
    if max(ids) - min(ids) <= SNIPPET_RANGE:
        snippets = dict(db.execute(
            f"""SELECT rowid, CASE WHEN rowid IN ({marks}) THEN {snippet} END FROM articles_fts
                WHERE articles_fts MATCH ? AND rowid BETWEEN ? AND ?""", [*ids, query, min(ids), max(ids)]))
    else:  # hits far apart: a statement each, rather than walking every hit between them
        snippets = {i: db.execute(f"SELECT {snippet} FROM articles_fts WHERE articles_fts MATCH ? AND rowid = ?",
                                  [query, i]).fetchone()[0] for i in ids}
    rows = {r["id"]: r for r in db.query(
        f"""SELECT id, {SHOWN_URL.format(t="articles")} AS url, title, source, published, language,
                   coalesce(story_id, id) AS story_id
            FROM articles WHERE id IN ({marks})""", ids)}
    return [{**rows[i], "snippet": snippets.get(i) or ""} for i in ids]


def _outlets(db: sqlite_utils.Database, stories: list[int]) -> dict[int, int]:
    """How many distinct sources carried each story, over every copy of it."""
    if not stories:
        return {}
    marks = ",".join("?" * len(stories))
    return {r["story_id"]: r["n"] for r in db.query(
        f"""SELECT coalesce(a.story_id, a.id) AS story_id, count(DISTINCT s.source) AS n
            FROM articles a JOIN article_sources s ON s.article_id = a.id
            WHERE a.story_id IN ({marks}) OR a.id IN ({marks}) GROUP BY 1""", stories * 2)}


def _guarded(query: str, run: Any) -> Any:
    """Run a search, turning FTS5's complaints about the query into a SearchSyntaxError."""
    try:
        return run()
    except sqlite3.OperationalError as exc:
        raise _syntax_error(query, exc) from exc


def _syntax_error(query: str, exc: sqlite3.OperationalError) -> Exception:
    """A SearchSyntaxError when FTS5 could not read the query, else the error itself."""
    message = str(exc)
    if any(m in message for m in ("fts5", "syntax error", "no such column", "unterminated", "special query")):
        return SearchSyntaxError(f"cannot read the query {query!r}: {_explain(message)}")
    return exc


def _explain(message: str) -> str:
    if "no such column" in message:
        column = message.rsplit(":", 1)[-1].strip()
        return (f"'{column}:' reads as a column filter, and only title: and text: exist; "
                "put the term in double quotes to search for it")
    if "unterminated string" in message:
        return "a double quote is not closed"
    return message.replace("fts5: ", "") + " (check quotes, parentheses and AND/OR/NOT/NEAR)"


def known_names(db: sqlite_utils.Database) -> tuple[set[str], set[str]]:
    """The sources and topics the archive holds articles of (a search may name one no longer in config)."""
    sources = {r[0] for r in db.execute("SELECT DISTINCT source FROM article_sources")}
    topics = {r[0] for r in db.execute("SELECT DISTINCT topic FROM matches")}
    return sources, topics
