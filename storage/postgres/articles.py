"""Writing articles into a PostgreSQL archive, each stored once (as storage.articles does on SQLite).

An article already held under one of its canonical URLs, its GUID within its source, or its normalised
text is not stored again: its source and URLs are recorded on the copy held. The same article (URL or
GUID) come back with a new title or text updates the one held, which keeps its story and matched state (so
it is never alerted twice). A new article joins the story of a stored near-duplicate, or founds its own
(storage.postgres.stories).
"""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import psycopg

from storage import fields
from storage.articles import ARTICLE_FIELDS, Stored, content_hash
from storage.postgres import stories


def store(conn: psycopg.Connection, item: Mapping[str, Any]) -> Stored:
    """Store one article (a mapping with ARTICLE_FIELDS, and optionally `aliases`), or record its source and
    URLs on the copy already held; its fields cleaned as on SQLite (storage.fields)."""
    row: dict[str, Any] = fields.cleaned({field: item.get(field) for field in ARTICLE_FIELDS})
    row.update(title=str(row["title"] or ""), text=str(row["text"] or ""), full_text=bool(row["full_text"]),
               published=_time(row["published"]), content_hash=content_hash(str(row["text"] or "")))
    urls = list(dict.fromkeys([row["canonical_url"], *item.get("aliases", ())]))
    updated = False
    with conn.transaction():
        found = _held(conn, row, urls)
        held = found[0] if found else None
        if found is None:
            columns = ", ".join(row)
            inserted = conn.execute(
                f"INSERT INTO articles ({columns}, fetched_at) VALUES ({', '.join(['%s'] * len(row))}, now())"
                " ON CONFLICT DO NOTHING RETURNING id", list(row.values())).fetchone()
            found = None if inserted else _held(conn, row, urls)  # or stored meanwhile by another
            held = inserted[0] if inserted else (found[0] if found else None)
            new = inserted is not None
            if new:
                stories.assign(conn, int(held or 0), row["text"], row["title"])
        else:
            new = False
            held_title, held_text = conn.execute("SELECT title, text FROM articles WHERE id = %s",
                                                 [found[0]]).fetchone() or ("", "")
            updated = found[1] and _update(conn, found[0], row)
            if updated and row["text"] and row["text"] != held_text:  # signed again, as on SQLite
                stories.resign(conn, found[0], row["text"], row["title"] or held_title)
        conn.execute("INSERT INTO article_sources VALUES (%s, %s, %s, now()) ON CONFLICT DO NOTHING",
                     [held, row["source"], row["url"]])
        with conn.cursor() as cursor:
            cursor.executemany("INSERT INTO article_urls VALUES (%s, %s) ON CONFLICT DO NOTHING",
                               [(url, held) for url in urls])
    return Stored(int(held or 0), new=new, updated=updated)


def _update(conn: psycopg.Connection, article_id: int, row: Mapping[str, Any]) -> bool:
    """Give the held article this copy's title and text where they are new (and its author and language
    where given); whether anything changed."""
    return conn.execute(
        """UPDATE articles SET title = coalesce(nullif(%(title)s, ''), title),
                  text = coalesce(nullif(%(text)s, ''), text),
                  author = coalesce(%(author)s, author), language = coalesce(%(language)s, language),
                  content_hash = CASE WHEN %(text)s <> '' AND text <> %(text)s THEN %(hash)s ELSE content_hash END
           WHERE id = %(id)s AND ((%(title)s <> '' AND title <> %(title)s) OR (%(text)s <> '' AND text <> %(text)s))""",
        {"id": article_id, "title": row["title"], "text": row["text"], "author": row["author"] or None,
         "language": row["language"] or None, "hash": row["content_hash"]}).rowcount == 1


def known(conn: psycopg.Connection, source: str, urls: Iterable[str], guids: Iterable[str]) -> set[str]:
    """Which of these canonical URLs (under any of which an article was seen) and GUIDs (of `source`)
    the archive already holds."""
    return {found for (found,) in conn.execute(
        "SELECT url FROM article_urls WHERE url = ANY(%s)"
        " UNION SELECT guid FROM articles WHERE source = %s AND guid = ANY(%s)", [list(urls), source, list(guids)])}


def also_carried(conn: psycopg.Connection, source: str, links: Mapping[str, str]) -> int:
    """Record `source` on the held articles it links to (canonical URL -> the link it gave), without storing
    them again; how many articles it was new on."""
    if not links:
        return 0
    return conn.execute(
        """INSERT INTO article_sources
           SELECT DISTINCT ON (u.article_id) u.article_id, %s, l.link, now()
           FROM unnest(%s::text[], %s::text[]) AS l(url, link) JOIN article_urls u ON u.url = l.url
           ORDER BY u.article_id ON CONFLICT DO NOTHING""",
        [source, list(links), list(links.values())]).rowcount


def _held(conn: psycopg.Connection, row: Mapping[str, Any], urls: list[str]) -> tuple[int, bool] | None:
    """The id of the stored article this one is a copy of, if any, and whether it is the same article (URL
    or GUID) rather than the same text published elsewhere."""
    found = conn.execute(
        """SELECT article_id, true FROM article_urls WHERE url = ANY(%(urls)s)
           UNION ALL SELECT id, true FROM articles WHERE %(guid)s::text IS NOT NULL AND source = %(source)s
                                                   AND guid = %(guid)s
           UNION ALL SELECT id, false FROM articles WHERE %(hash)s::text IS NOT NULL AND content_hash = %(hash)s
           LIMIT 1""", {"urls": urls, "guid": row["guid"], "source": row["source"],
                        "hash": row["content_hash"]}).fetchone()
    return (int(found[0]), bool(found[1])) if found else None


def _time(value: Any) -> datetime | None:
    """A date as extraction gives it (ISO 8601 text) as a datetime; None when it is none or unreadable."""
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
