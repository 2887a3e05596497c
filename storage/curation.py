"""The analysts' desk: what they keep (stars, tags, notes, in tables of their own) and what the desk reads.

Curation is the one thing the desk writes: `curation_stars`, `curation_tags` and `curation_notes` (migration
13), each row with `who` (the web actor's id, or "local") and `at`. Everything else is read: an article with
its story's other copies and the topics it matched, the facets of a search, and the bulletin's articles.

These functions take the connection first, as the rest of storage does, so that the CLI runs them through
`Archive.read_now` and the desk through Datasette's own database object, given `on(fn, *args)`.
"""

import json
from collections.abc import Callable
from typing import Any, TypeVar

import sqlite_utils

from storage.db import now_iso, write
from storage.errors import translated
from storage.fts_query import fts_query
from storage.search import DATE, SHOWN_URL, Filters

T = TypeVar("T")
TAG_CHARS, NOTE_CHARS = 40, 4000
FACET_WINDOW = 10_000  # facets count the stories among this many newest hits (a search, too, ranks a window)


class CurationError(ValueError):
    """A tag or note that cannot be stored (empty, too long); the message says why, in one line."""


def on(fn: Callable[..., T], *args: Any, **kwargs: Any) -> Callable[[Any], T]:
    """fn(db, *args) for a caller that holds a bare sqlite3 connection (Datasette's `execute_fn`), SQLite's
    errors raised as storage's (a write waiting too long on the crawler's lock: ArchiveBusyError)."""

    def run(conn: Any) -> T:
        with translated():
            return fn(sqlite_utils.Database(conn), *args, **kwargs)

    return run


def star(db: sqlite_utils.Database, article_id: int, who: str, starred: bool = True) -> None:
    """Star an article for `who`, or take their star off."""
    with write(db):
        if starred:
            db.execute("INSERT OR REPLACE INTO curation_stars VALUES (?, ?, ?)", [article_id, who, now_iso()])
        else:
            db.execute("DELETE FROM curation_stars WHERE article_id = ? AND who = ?", [article_id, who])


def tag(db: sqlite_utils.Database, article_id: int, name: str, who: str, tagged: bool = True) -> None:
    """Put a tag on an article (trimmed, at most TAG_CHARS), or take it off; CurationError for a bad tag."""
    name = " ".join(name.split())
    if not name or len(name) > TAG_CHARS:
        raise CurationError(f"a tag is 1 to {TAG_CHARS} characters, not {len(name)}")
    with write(db):
        if tagged:
            db.execute("INSERT OR IGNORE INTO curation_tags VALUES (?, ?, ?, ?)", [article_id, name, who, now_iso()])
        else:
            db.execute("DELETE FROM curation_tags WHERE article_id = ? AND tag = ?", [article_id, name])


def note(db: sqlite_utils.Database, article_id: int, text: str, who: str) -> None:
    """Add a note to an article (at most NOTE_CHARS); CurationError for an empty or long one."""
    text = text.strip()
    if not text or len(text) > NOTE_CHARS:
        raise CurationError(f"a note is 1 to {NOTE_CHARS} characters, not {len(text)}")
    with write(db):
        db.execute("INSERT INTO curation_notes (article_id, note, who, at) VALUES (?, ?, ?, ?)",
                   [article_id, text, who, now_iso()])


def kept(db: sqlite_utils.Database, article_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each article's stars (who), tags and notes (note, who, at, oldest first)."""
    found: dict[int, dict[str, Any]] = {i: {"stars": [], "tags": [], "notes": []} for i in article_ids}
    marks = ",".join("?" * len(article_ids))
    for table, key, columns in (("curation_stars", "stars", "who"), ("curation_tags", "tags", "tag"),
                                ("curation_notes", "notes", "note, who, at")):
        for row in db.query(f"SELECT article_id, {columns} FROM {table} WHERE article_id IN ({marks}) "
                            "ORDER BY at, rowid", article_ids):
            kept_row = found[row.pop("article_id")]
            kept_row[key].append(row if key == "notes" else next(iter(row.values())))
    return found


def article(db: sqlite_utils.Database, article_id: int) -> dict[str, Any] | None:
    """An article to read: its text, shown link, the story's other copies, the topics it matched with their
    terms, and what analysts kept of it; None when there is no such article."""
    row = next(db.query(
        f"""SELECT id, {SHOWN_URL.format(t="articles")} AS url, title, text, author, source, language,
                   coalesce(published, fetched_at) AS published, coalesce(story_id, id) AS story_id
            FROM articles WHERE id = ?""", [article_id]), None)
    if row is None:
        return None
    row["copies"] = list(db.query(
        f"""SELECT a.id, {SHOWN_URL.format(t="a")} AS url, a.title, a.source, {DATE} AS published
            FROM articles a WHERE coalesce(a.story_id, a.id) = ? AND a.id != ? ORDER BY {DATE}, a.id""",
        [row["story_id"], article_id]))
    row["matches"] = [{"topic": m["topic"], "terms": json.loads(m["terms"] or "[]")} for m in db.query(
        "SELECT topic, terms FROM matches WHERE article_id = ? ORDER BY topic", [article_id])]
    return {**row, **kept(db, [article_id])[article_id]}


def topics_of(db: sqlite_utils.Database, article_ids: list[int]) -> dict[int, list[str]]:
    """The topics each article matched, by name."""
    found: dict[int, list[str]] = {i: [] for i in article_ids}
    marks = ",".join("?" * len(article_ids))
    for row in db.query(f"SELECT article_id, topic FROM matches WHERE article_id IN ({marks}) ORDER BY topic",
                        article_ids):
        found[row["article_id"]].append(row["topic"])
    return found


def facets(db: sqlite_utils.Database, query: str, **filters: str | None) -> dict[str, list[tuple[str, int]]]:
    """Stories per source, topic, language and month among the newest FACET_WINDOW hits of a search (or the
    newest articles, for an empty query), most first (months in order); SearchSyntaxError for a bad query."""
    where, params = Filters(**filters).where()
    if query.strip():
        hits = f"""FROM articles_fts CROSS JOIN articles a ON a.id = articles_fts.rowid
                   WHERE {" AND ".join(["articles_fts MATCH :query", *where])}
                   ORDER BY articles_fts.rowid DESC LIMIT :window"""
        params["query"] = fts_query(query)
    else:
        hits = f"FROM articles a {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY {DATE} DESC LIMIT :window"
    sql = f"""WITH hits AS (
                SELECT a.id, coalesce(a.story_id, a.id) AS story, a.source, coalesce(a.language, '') AS language,
                       substr({DATE}, 1, 7) AS month {hits})
              SELECT 'source' AS facet, source AS value, count(DISTINCT story) AS n FROM hits GROUP BY source
              UNION ALL SELECT 'topic', m.topic, count(DISTINCT story)
                        FROM hits JOIN matches m ON m.article_id = hits.id GROUP BY m.topic
              UNION ALL SELECT 'lang', language, count(DISTINCT story) FROM hits GROUP BY language
              UNION ALL SELECT 'month', month, count(DISTINCT story) FROM hits GROUP BY month"""
    found: dict[str, list[tuple[str, int]]] = {"source": [], "topic": [], "lang": [], "month": []}
    for row in db.query(sql, {**params, "window": FACET_WINDOW}):
        found[row["facet"]].append((row["value"], row["n"]))
    for name, values in found.items():
        values.sort(key=(lambda value: value[0]) if name == "month" else (lambda value: (-value[1], value[0])))
    return found


def newest(db: sqlite_utils.Database, limit: int = 50, **filters: str | None) -> list[dict[str, Any]]:
    """The newest stories (one article each, the newest of its copies among the latest arrivals) passing the
    filters, with `outlets`, the number of sources that carried the story, and `lead`, the text's start."""
    where, params = Filters(**filters).where()
    rows = db.query(
        f"""SELECT a.id, {SHOWN_URL.format(t="a")} AS url, a.title, a.source, {DATE} AS published,
                   coalesce(a.story_id, a.id) AS story_id, substr(a.text, 1, 240) AS lead
            FROM articles a {"WHERE " + " AND ".join(where) if where else ""}
            ORDER BY {DATE} DESC, a.id DESC LIMIT :window""", {**params, "window": limit * 4})
    stories: dict[int, dict[str, Any]] = {}
    for row in rows:
        stories.setdefault(row["story_id"], row)
    chosen = list(stories.values())[:limit]
    for row in chosen:
        row["outlets"] = db.execute(
            """SELECT count(DISTINCT s.source) FROM articles c JOIN article_sources s ON s.article_id = c.id
               WHERE c.story_id = :story OR c.id = :story""", {"story": row["story_id"]}).fetchone()[0]
    return chosen


def bulletin(db: sqlite_utils.Database, since: str, tag: str | None = None) -> list[dict[str, Any]]:
    """The articles starred or tagged since `since` (an ISO date; with `tag`, those carrying it), newest first,
    each with its topics, stars, tags and notes."""
    rows = list(db.query(
        f"""SELECT a.id, {SHOWN_URL.format(t="a")} AS url, a.title, a.source, {DATE} AS published
            FROM articles a WHERE a.id IN (
                SELECT article_id FROM curation_tags WHERE at >= :since AND (:tag IS NULL OR tag = :tag)
                UNION SELECT article_id FROM curation_stars WHERE at >= :since AND :tag IS NULL)
            ORDER BY {DATE} DESC, a.id DESC""", {"since": since, "tag": tag}))
    ids = [r["id"] for r in rows]
    curation, topics = kept(db, ids), topics_of(db, ids)
    return [{**r, **curation[r["id"]], "topics": topics[r["id"]]} for r in rows]

