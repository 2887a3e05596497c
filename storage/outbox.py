"""Matches and the alert outbox.

The matcher records an article's matches and queues its alerts in one transaction; the dispatcher
reads pending rows and marks each one sent right after Telegram accepted it. A process killed between
those two steps finds its work where it left it.
"""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from storage.db import now_iso


@dataclass(frozen=True)
class Match:
    """One topic matched by one article: the terms that hit, and the chats to tell."""

    topic: str
    terms: list[str]
    chats: list[int] = field(default_factory=list)


def unmatched(db: sqlite_utils.Database, limit: int = 500) -> list[dict[str, Any]]:
    """Articles stored but not yet run through the matcher, oldest first."""
    return list(db.query(
        "SELECT * FROM articles WHERE matched_at IS NULL ORDER BY id LIMIT ?", [limit]))


def record_matches(db: sqlite_utils.Database, article: dict[str, Any], matches: Iterable[Match],
                   *, alert: bool) -> int:
    """Record the article's matches and, if `alert`, queue one alert per story, topic and chat.

    Returns the number of alerts queued (a story already queued for a topic and chat is not queued again).
    """
    now = now_iso()
    queued = 0
    with db.atomic():
        for match in matches:
            db.execute("INSERT OR REPLACE INTO matches VALUES (?, ?, ?, ?)",
                       [article["id"], match.topic, json.dumps(match.terms, ensure_ascii=False), now])
            if not alert:
                continue
            for chat in match.chats:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO outbox (story_id, article_id, topic, chat_id, queued_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [article["story_id"] or article["id"], article["id"], match.topic, chat, now])
                queued += cursor.rowcount
        db.execute("UPDATE articles SET matched_at = ? WHERE id = ?", [now, article["id"]])
    return queued


def pending(db: sqlite_utils.Database, *, after_id: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    """Alerts waiting to be sent whose time has come, oldest first, with their article and terms.

    A muted chat's alerts are left out (they stay pending until the mute ends). `after_id` pages through
    them, so that one pass visits each row once.
    """
    now = now_iso()
    return list(db.query(
        """
        SELECT outbox.id, outbox.chat_id, outbox.topic, outbox.attempts, outbox.story_id, outbox.queued_at,
               articles.id AS article_id, articles.title, articles.url, articles.source,
               articles.published, articles.text, matches.terms
        FROM outbox
        JOIN articles ON articles.id = outbox.article_id
        LEFT JOIN matches ON matches.article_id = outbox.article_id AND matches.topic = outbox.topic
        WHERE outbox.state = 'pending' AND (outbox.not_before IS NULL OR outbox.not_before <= ?)
              AND outbox.id > ?
              AND outbox.chat_id NOT IN (SELECT chat_id FROM chats WHERE muted_until > ?)
        ORDER BY outbox.id LIMIT ?
        """, [now, after_id, now, limit]))


def other_outlets(db: sqlite_utils.Database, article_id: int, story_id: int | None, source: str) -> list[str]:
    """The other sources that carried this article or its story, by name."""
    rows = db.execute(
        """
        SELECT DISTINCT name FROM (
            SELECT source AS name FROM article_sources WHERE article_id = ?
            UNION SELECT source FROM articles WHERE story_id = ? AND story_id IS NOT NULL
        ) WHERE name != ? ORDER BY name
        """, [article_id, story_id, source]).fetchall()
    return [r[0] for r in rows]


def deferred_chats(db: sqlite_utils.Database) -> set[int]:
    """Chats with an alert put off after a failure and not due yet: their later alerts wait behind it."""
    return {r[0] for r in db.execute(
        "SELECT DISTINCT chat_id FROM outbox WHERE state = 'pending' AND not_before > ?", [now_iso()])}


def next_due_in(db: sqlite_utils.Database) -> float | None:
    """Seconds until the next alert put off after a failure is due (0 if now), or None if there is none."""
    row = db.execute("SELECT count(*), min(not_before) FROM outbox WHERE state = 'pending'"
                     " AND not_before IS NOT NULL").fetchone()
    if not row[0]:
        return None
    due = datetime.fromisoformat(row[1])
    return max((due - datetime.now(UTC)).total_seconds(), 0.0)


def sent_since(db: sqlite_utils.Database, chat_id: int, since: str, delivery: str) -> list[str]:
    """When this chat's alerts sent the given way ('alert', 'digest', 'folded') since `since` went out."""
    return [r[0] for r in db.execute(
        "SELECT DISTINCT sent_at FROM outbox WHERE chat_id = ? AND state = 'sent' AND sent_at >= ?"
        " AND coalesce(delivery, 'alert') = ? ORDER BY sent_at", [chat_id, since, delivery])]


def count_sent_since(db: sqlite_utils.Database, chat_id: int, since: str) -> int:
    """How many alerts this chat was sent one by one since `since`."""
    return int(db.execute(
        "SELECT count(*) FROM outbox WHERE chat_id = ? AND state = 'sent' AND sent_at >= ?"
        " AND coalesce(delivery, 'alert') = 'alert'", [chat_id, since]).fetchone()[0])


def mark_sent(db: sqlite_utils.Database, row_ids: int | list[int], message_id: int | None,
              delivery: str = "alert") -> None:
    """Record that Telegram (or the console) accepted the message carrying these alerts."""
    ids = [row_ids] if isinstance(row_ids, int) else row_ids
    now = now_iso()
    with db.atomic():
        db.conn.executemany("UPDATE outbox SET state = 'sent', sent_at = ?, message_id = ?, delivery = ?,"
                       " attempts = attempts + 1 WHERE id = ?", [(now, message_id, delivery, i) for i in ids])


def mark_retry(db: sqlite_utils.Database, row_ids: int | list[int], error: str, not_before: str) -> None:
    """Keep these alerts pending after a temporary failure, to be tried again from `not_before`."""
    ids = [row_ids] if isinstance(row_ids, int) else row_ids
    with db.atomic():
        db.conn.executemany("UPDATE outbox SET attempts = attempts + 1, last_error = ?, not_before = ?"
                       " WHERE id = ?", [(error, not_before, i) for i in ids])


def mark_failed(db: sqlite_utils.Database, row_ids: int | list[int], error: str) -> None:
    """Give up on these alerts for a permanent reason (chat not found, bot blocked)."""
    ids = [row_ids] if isinstance(row_ids, int) else row_ids
    with db.atomic():
        db.conn.executemany("UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?"
                       " WHERE id = ?", [(error, i) for i in ids])


def counts(db: sqlite_utils.Database) -> dict[str, int]:
    """How many alerts are pending, sent and failed."""
    result = {"pending": 0, "sent": 0, "failed": 0}
    result.update({r["state"]: r["n"] for r in db.query(
        "SELECT state, count(*) AS n FROM outbox GROUP BY state")})
    return result


def failures(db: sqlite_utils.Database, limit: int = 20) -> Iterator[dict[str, Any]]:
    """The most recent alerts given up on, with their reason."""
    return db.query("SELECT outbox.id, chat_id, topic, last_error, articles.title FROM outbox"
                    " JOIN articles ON articles.id = outbox.article_id WHERE state = 'failed'"
                    " ORDER BY outbox.id DESC LIMIT ?", [limit])
