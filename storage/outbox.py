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

    `after_id` pages through them, so that one pass visits each row once.
    """
    return list(db.query(
        """
        SELECT outbox.id, outbox.chat_id, outbox.topic, outbox.attempts, outbox.story_id,
               articles.id AS article_id, articles.title, articles.url, articles.source,
               articles.published, articles.text, matches.terms
        FROM outbox
        JOIN articles ON articles.id = outbox.article_id
        LEFT JOIN matches ON matches.article_id = outbox.article_id AND matches.topic = outbox.topic
        WHERE outbox.state = 'pending' AND (outbox.not_before IS NULL OR outbox.not_before <= ?)
              AND outbox.id > ?
        ORDER BY outbox.id LIMIT ?
        """, [now_iso(), after_id, limit]))


def next_due_in(db: sqlite_utils.Database) -> float | None:
    """Seconds until the next pending alert is due (0 if one is due now), or None if none is pending."""
    row = db.execute("SELECT count(*), min(coalesce(not_before, '')) FROM outbox WHERE state = 'pending'"
                     ).fetchone()
    if not row[0]:
        return None
    if not row[1]:
        return 0.0
    due = datetime.fromisoformat(row[1])
    return max((due - datetime.now(UTC)).total_seconds(), 0.0)


def mark_sent(db: sqlite_utils.Database, row_id: int, message_id: int | None) -> None:
    """Record that Telegram (or the console) accepted this alert."""
    with db.atomic():
        db.execute("UPDATE outbox SET state = 'sent', sent_at = ?, message_id = ?,"
                   " attempts = attempts + 1 WHERE id = ?", [now_iso(), message_id, row_id])


def mark_retry(db: sqlite_utils.Database, row_id: int, error: str, not_before: str) -> None:
    """Keep this alert pending after a temporary failure, to be tried again from `not_before`."""
    with db.atomic():
        db.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ?, not_before = ?"
                   " WHERE id = ?", [error, not_before, row_id])


def mark_failed(db: sqlite_utils.Database, row_id: int, error: str) -> None:
    """Give up on this alert for a permanent reason (chat not found, bot blocked)."""
    with db.atomic():
        db.execute("UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?"
                   " WHERE id = ?", [error, row_id])


def counts(db: sqlite_utils.Database) -> dict[str, int]:
    """How many alerts are pending, sent and failed."""
    result = {"pending": 0, "sent": 0, "failed": 0}
    result.update({r["state"]: r["n"] for r in db.query(
        "SELECT state, count(*) AS n FROM outbox GROUP BY state")})
    return result


def failures(db: sqlite_utils.Database, limit: int = 20) -> Iterator[dict[str, Any]]:
    """The most recent alerts given up on, with their reason."""
    return db.query("SELECT id, chat_id, topic, last_error FROM outbox WHERE state = 'failed'"
                    " ORDER BY id DESC LIMIT ?", [limit])
