"""Watched pages: their versions, and the change (or the disappearance) each becomes as an article.

A check of a watched page that finds its watched lines changed writes, in one transaction: a new version,
an article of the archive (source: the watch's name, URL: the page's with a `#version-N-<name>` fragment, title
"Changed: <page title>", text: the added lines) and, for the watch's own `chats:`, a match of the pseudo-topic
named after the watch with its outbox rows. Topics then match the article (the added lines) as any other;
the dispatcher sends one message per story and chat. The first version is the baseline: kept, not alerted.
A page gone (404/410) for `GONE_AFTER` checks in a row becomes one article "Gone: <title>", once.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from storage import articles, fields
from storage.db import now_iso, write

GONE_AFTER = 3  # checks in a row answering 404 or 410 before a page is reported gone


@dataclass(frozen=True)
class Version:
    """One version kept of a watched page: its lines, and what it added and removed from the one before."""

    source: str
    number: int
    fetched_at: str
    title: str
    lines: list[str]
    added: list[str]
    removed: list[str]
    article_id: int | None = None


def latest(db: sqlite_utils.Database, source: str) -> Version | None:
    """The last version kept of the watch `source`, or None before its first check."""
    rows = list(db.query("SELECT * FROM watch_versions WHERE source = ? ORDER BY number DESC LIMIT 1", [source]))
    return _version(rows[0]) if rows else None


def history(db: sqlite_utils.Database, source: str) -> list[Version]:
    """Every version kept of the watch `source`, newest first."""
    return [_version(r) for r in db.query("SELECT * FROM watch_versions WHERE source = ? ORDER BY number DESC",
                                          [source])]


def _version(row: dict[str, Any]) -> Version:
    return Version(row["source"], row["number"], row["fetched_at"], row["title"], json.loads(row["lines"]),
                   json.loads(row["added"]), json.loads(row["removed"]), row["article_id"])


def record_version(db: sqlite_utils.Database, source: str, url: str, title: str, lines: Sequence[str],
                   added: Sequence[str], removed: Sequence[str], chats: Sequence[int],
                   summary: Sequence[str] = ()) -> Version:
    """Keep a new version of the watch `source` (the page answered again: it is no longer gone) and, unless
    it is the first, the article of its change with the alerts of the watch's own chats, whose match keeps
    `summary` (the diff as alerts show it) as its terms."""
    now = now_iso()
    with write(db):
        number = 1 + (db.execute("SELECT max(number) FROM watch_versions WHERE source = ?", [source]).fetchone()[0]
                      or 0)
        article_id = None
        if number > 1:
            fragment = f"#version-{number}-{source}"  # with the name: two watches may watch one page
            article_id = _alerted(db, source, {"url": url, "canonical_url": url + fragment,
                                               "title": f"Changed: {title or url}", "text": "\n".join(added),
                                               "published": now}, chats, summary)
        db.table("watch_versions").insert({
            "source": source, "number": number, "fetched_at": now, "title": title, "url": url,
            "lines": json.dumps(list(lines), ensure_ascii=False), "added": json.dumps(list(added), ensure_ascii=False),
            "removed": json.dumps(list(removed), ensure_ascii=False), "article_id": article_id})
        db.execute("DELETE FROM watch_gone WHERE source = ?", [source])
    return Version(source, number, now, title, list(lines), list(added), list(removed), article_id)


def record_gone(db: sqlite_utils.Database, source: str, url: str, status: int, chats: Sequence[int]) -> bool:
    """Count one more check of the watch `source` answering `status` (404, 410); at GONE_AFTER in a row, the
    article saying the page is gone and its alerts. Whether it was reported now (once per disappearance)."""
    now = now_iso()
    with write(db):
        db.execute("INSERT INTO watch_gone (source, checks, since) VALUES (?, 1, ?)"
                   " ON CONFLICT(source) DO UPDATE SET checks = checks + 1", [source, now])
        checks, since = db.execute("SELECT checks, since FROM watch_gone WHERE source = ?", [source]).fetchone()
        if checks != GONE_AFTER:
            return False
        last = latest(db, source)
        title = last.title if last and last.title else url
        _alerted(db, source, {"url": url, "canonical_url": f"{url}#gone-{source}-{since}", "title": f"Gone: {title}",
                              "text": f"The page answers HTTP {status} ({checks} checks in a row).",
                              "published": now}, chats)
        return True


def _alerted(db: sqlite_utils.Database, source: str, row: dict[str, Any], chats: Sequence[int],
             summary: Sequence[str] = ()) -> int:
    """Store the article of a change and queue its alerts for the watch's own chats; its id.

    It is a story of its own, never a copy: a line added again, or a change like the last, is news again
    (articles.store would take it for the article or the story already held).
    """
    article = fields.cleaned({**dict.fromkeys(articles.ARTICLE_FIELDS), "source": source, "full_text": 1, **row})
    now = now_iso()
    article_id = int(db.table("articles").insert({**article, "fetched_at": now}).last_pk or 0)
    db.execute("UPDATE articles SET story_id = ? WHERE id = ?", [article_id, article_id])
    db.execute("INSERT INTO article_sources VALUES (?, ?, ?, ?)", [article_id, source, article["url"], now])
    db.execute("INSERT INTO article_urls VALUES (?, ?)", [article["canonical_url"], article_id])
    if chats:
        terms = json.dumps(list(summary), ensure_ascii=False)
        db.execute("INSERT INTO matches VALUES (?, ?, ?, ?)", [article_id, source, terms, now])
        db.conn.executemany("INSERT OR IGNORE INTO outbox (story_id, article_id, topic, chat_id, queued_at)"
                            " VALUES (?, ?, ?, ?, ?)", [(article_id, article_id, source, c, now) for c in chats])
    return article_id
