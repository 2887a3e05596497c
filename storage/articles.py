"""Writing articles into the archive, each stored once.

An article is the same as one already stored when it has the same canonical URL, the same GUID within
its source, or the same normalised text. The copy is not stored again; the source that carried it is
remembered in `article_sources`.
"""

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from storage.db import now_iso

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
    """Which of these canonical URLs and GUIDs (of `source`) the archive already holds."""
    found: set[str] = set()
    urls, guids = list(urls), list(guids)
    for chunk in _chunks(urls):
        marks = ",".join("?" * len(chunk))
        found.update(r[0] for r in db.execute(
            f"SELECT canonical_url FROM articles WHERE canonical_url IN ({marks})", chunk))
    for chunk in _chunks(guids):
        marks = ",".join("?" * len(chunk))
        found.update(r[0] for r in db.execute(
            f"SELECT guid FROM articles WHERE source = ? AND guid IN ({marks})", [source, *chunk]))
    return found


def _chunks(values: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _find_existing(db: sqlite_utils.Database, item: Mapping[str, Any], digest: str | None) -> dict | None:
    queries: list[tuple[str, list[Any]]] = [
        ("canonical_url = ?", [item["canonical_url"]]),
    ]
    if item.get("guid"):
        queries.append(("source = ? AND guid = ?", [item["source"], item["guid"]]))
    if digest:
        queries.append(("content_hash = ?", [digest]))
    for where, params in queries:
        rows = list(db.query(f"SELECT id, title, text, canonical_url FROM articles WHERE {where} LIMIT 1",
                             params))
        if rows:
            return rows[0]
    return None


def store(db: sqlite_utils.Database, item: Mapping[str, Any]) -> Stored:
    """Store one article (a mapping with ARTICLE_FIELDS), or record its source on the copy already held.

    The same URL with a new title or text updates the stored article; it keeps its matched state, so it
    is never alerted twice.
    """
    row: dict[str, Any] = {field: item.get(field) for field in ARTICLE_FIELDS}
    row["title"] = str(row["title"] or "")
    row["text"] = str(row["text"] or "")
    row["full_text"] = int(bool(row["full_text"]))
    digest = content_hash(row["text"])
    now = now_iso()
    with db.atomic():
        existing = _find_existing(db, row, digest)
        if existing is None:
            article_id = int(db.table("articles").insert(
                {**row, "content_hash": digest, "fetched_at": now}).last_pk or 0)
            db.execute("UPDATE articles SET story_id = id WHERE id = ?", [article_id])
            _carried(db, article_id, row, now)
            return Stored(article_id, new=True)
        article_id = existing["id"]
        updated = existing["canonical_url"] == row["canonical_url"] and (
            (row["title"] and row["title"] != existing["title"])
            or (row["text"] and row["text"] != existing["text"]))
        if updated:
            changes = {k: row[k] for k in ("title", "text", "author", "language") if row[k]}
            db.table("articles").update(article_id, {**changes, "content_hash": digest})
        _carried(db, article_id, row, now)
        return Stored(int(article_id), new=False, updated=bool(updated))


def _carried(db: sqlite_utils.Database, article_id: int, row: Mapping[str, Any], now: str) -> None:
    db.execute("INSERT OR IGNORE INTO article_sources VALUES (?, ?, ?, ?)",
               [article_id, row["source"], row["url"], now])


def get(db: sqlite_utils.Database, article_id: int) -> dict[str, Any]:
    """One stored article as a dict, with `sources`: the names of every source that carried it."""
    row = db.table("articles").get(article_id)
    row["sources"] = [r["source"] for r in db.query(
        "SELECT source FROM article_sources WHERE article_id = ? ORDER BY seen_at", [article_id])]
    return row
