"""Writing articles into the archive, each stored once.

An article is the same as one already stored when it has the same canonical URL, the same GUID within
its source, or the same normalised text. The copy is not stored again; the source that carried it is
remembered in `article_sources`, and every canonical URL it was seen under (the page's own canonical, the
feed's link, another outlet's URL for the same text) in `article_urls`, so that crawlers can skip it. A crawler
that skips a held article tells `also_carried` which source linked to it, so that source is recorded too.

A new article joins its story (see storage.stories): `story_id` is the id of the story's first article.
"""

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from storage import fields, stories
from storage.db import now_iso, write

_SPACE = re.compile(r"\W+")
_MIN_HASHED_TEXT = 200  # shorter texts (a title, a teaser) are too generic to prove a copy

ARTICLE_FIELDS = ("source", "url", "canonical_url", "guid", "title", "text", "author", "published",
                  "language", "full_text")


@dataclass(frozen=True)
class Stored:
    """The outcome of one write: the article's id and whether it was new to the archive."""

    article_id: int
    new: bool
    updated: bool = False


def content_hash(text: str) -> str | None:
    """A hash of the text with case, punctuation and spacing ignored, or None for a short text."""
    words = _SPACE.sub(" ", text.casefold()).strip()
    if len(words) < _MIN_HASHED_TEXT:
        return None
    return hashlib.sha1(words.encode()).hexdigest()


def known(db: sqlite_utils.Database, source: str, urls: Iterable[str], guids: Iterable[str]) -> set[str]:
    """Which of these canonical URLs (under any of which an article was seen) and GUIDs (of `source`)
    the archive already holds."""
    found: set[str] = set()
    urls, guids = list(urls), list(guids)
    for chunk in _chunks(urls):
        marks = ",".join("?" * len(chunk))
        found.update(r[0] for r in db.execute(
            f"SELECT url FROM article_urls WHERE url IN ({marks})", chunk))
    for chunk in _chunks(guids):
        marks = ",".join("?" * len(chunk))
        found.update(r[0] for r in db.execute(
            f"SELECT guid FROM articles WHERE source = ? AND guid IN ({marks})", [source, *chunk]))
    return found


def also_carried(db: sqlite_utils.Database, source: str, links: Mapping[str, str]) -> int:
    """Record `source` on the held articles it links to (canonical URL -> the link it gave), without storing
    them again; how many articles it was new on. Nothing is written when the source is already recorded."""
    missing: list[tuple[int, str]] = []
    for chunk in _chunks(list(links)):
        marks = ",".join("?" * len(chunk))
        missing.extend(db.execute(
            f"""SELECT u.article_id, u.url FROM article_urls u
                WHERE u.url IN ({marks}) AND NOT EXISTS (
                    SELECT 1 FROM article_sources s WHERE s.article_id = u.article_id AND s.source = ?)""",
            [*chunk, source]).fetchall())
    if not missing:
        return 0
    now = now_iso()
    with write(db):
        before = db.conn.total_changes
        db.conn.executemany("INSERT OR IGNORE INTO article_sources VALUES (?, ?, ?, ?)",
                            [(article_id, source, links[url], now) for article_id, url in missing])
        return db.conn.total_changes - before


def _chunks(values: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _find_existing(db: sqlite_utils.Database, row: Mapping[str, Any], urls: list[str],
                   digest: str | None) -> tuple[dict[str, Any], bool] | None:
    """The stored article this one is a copy of, and whether it is the same article (URL or GUID) rather
    than the same text published elsewhere."""
    marks = ",".join("?" * len(urls))
    queries: list[tuple[str, list[Any], bool]] = [
        (f"id = (SELECT article_id FROM article_urls WHERE url IN ({marks}) LIMIT 1)", urls, True),
    ]
    if row.get("guid"):
        queries.append(("source = ? AND guid = ?", [row["source"], row["guid"]], True))
    if digest:
        queries.append(("content_hash = ?", [digest], False))
    for where, params, same in queries:
        found = list(db.query(f"SELECT id, title, text FROM articles WHERE {where} LIMIT 1", params))
        if found:
            return found[0], same
    return None


def store(db: sqlite_utils.Database, item: Mapping[str, Any]) -> Stored:
    """Store one article (a mapping with ARTICLE_FIELDS, and optionally `aliases`: other canonical URLs
    it is known under), or record its source and URLs on the copy already held. Its fields are stored
    printable and within their size (see storage.fields).

    The same article (URL or GUID) with a new title or text updates the stored one; it keeps its story and
    its matched state, so it is never alerted twice.
    """
    row: dict[str, Any] = fields.cleaned({field: item.get(field) for field in ARTICLE_FIELDS})
    row["title"] = str(row["title"] or "")
    row["text"] = str(row["text"] or "")
    row["full_text"] = int(bool(row["full_text"]))
    urls = list(dict.fromkeys([row["canonical_url"], *item.get("aliases", ())]))
    digest = content_hash(row["text"])
    now = now_iso()
    with write(db):
        existing = _find_existing(db, row, urls, digest)
        if existing is None:
            article_id = int(db.table("articles").insert(
                {**row, "content_hash": digest, "fetched_at": now}).last_pk or 0)
            stories.assign(db, article_id, row["text"], row["title"])
            _carried(db, article_id, row, urls, now)
            return Stored(article_id, new=True)
        held, same = existing
        article_id = int(held["id"])
        new_text = bool(row["text"]) and row["text"] != held["text"]
        updated = same and ((bool(row["title"]) and row["title"] != held["title"]) or new_text)
        if updated:
            changes = {k: row[k] for k in ("title", "text", "author", "language") if row[k]}
            db.table("articles").update(article_id, {**changes, "content_hash": digest} if new_text else changes)
            if new_text:
                stories.resign(db, article_id, row["text"], row["title"] or held["title"])
        _carried(db, article_id, row, urls, now)
        return Stored(article_id, new=False, updated=updated)


def _carried(db: sqlite_utils.Database, article_id: int, row: Mapping[str, Any], urls: list[str],
             now: str) -> None:
    db.execute("INSERT OR IGNORE INTO article_sources VALUES (?, ?, ?, ?)",
               [article_id, row["source"], row["url"], now])
    db.conn.executemany("INSERT OR IGNORE INTO article_urls VALUES (?, ?)", [(u, article_id) for u in urls])


def get(db: sqlite_utils.Database, article_id: int) -> dict[str, Any]:
    """One stored article as a dict, with `sources`: the names of every source that carried it."""
    row = db.table("articles").get(article_id)
    row["sources"] = [r["source"] for r in db.query(
        "SELECT source FROM article_sources WHERE article_id = ? ORDER BY seen_at", [article_id])]
    return row
