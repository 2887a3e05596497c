"""Matches and the alert outbox.

The matcher records an article's matches and queues its alerts in one transaction. A dispatcher claims
the rows of a message in a committed write (state 'sending', its process, a lease) before sending it, and
marks them sent right after the channel accepted it: any number of processes on one archive send each
alert once. A claim outlives its process only until its lease ends, or at once when that process is known
dead (same host, pid gone): its alerts are then sent again, at most once. On PostgreSQL the same claim is
an UPDATE of rows selected FOR UPDATE SKIP LOCKED.

A row's `chat_id` is its recipient's address (storage.records.Address): a Telegram chat id, or an Apprise
URL. The column's INTEGER affinity keeps a URL as text and a chat id as the integer it always was, so the
archives written before addresses need no migration (PostgreSQL's column became TEXT: migration 7 there).
"""

import json
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

from storage import boilerplate
from storage.db import now_iso, write
from storage.records import Address, QueuedAlert

LEASE = timedelta(minutes=2)  # longer than any send takes, rate limiter and timeouts included


@dataclass(frozen=True)
class Match:
    """One topic matched by one article: the terms that hit, and the chats to tell."""

    topic: str
    terms: list[str]
    chats: list[Address] = field(default_factory=list)


def unmatched(db: sqlite_utils.Database, limit: int = 500) -> list[dict[str, Any]]:
    """Articles stored but not yet run through the matcher, oldest first, each with `matching_text`: its text
    without the paragraphs known as boilerplate (storage.boilerplate), which topics match against."""
    rows = list(db.query("SELECT * FROM articles WHERE matched_at IS NULL ORDER BY id LIMIT ?", [limit]))
    return [{**row, "matching_text": boilerplate.left_out(db, row["text"] or "")} for row in rows]


def record_matches(db: sqlite_utils.Database, article: dict[str, Any], matches: Iterable[Match],
                   *, alert: bool) -> int:
    """Record the article's matches and, if `alert`, queue one alert per story, topic and chat.

    Returns the number of alerts queued (a story already queued for a topic and chat is not queued again).
    """
    now = now_iso()
    queued = 0
    with write(db):
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


def pending(db: sqlite_utils.Database, *, after_id: int = 0, limit: int = 100) -> list[QueuedAlert]:
    """Alerts waiting to be sent whose time has come, oldest first, with their article and terms.

    A muted chat's alerts are left out (they stay pending until the mute ends). `after_id` pages through
    them, so that one pass visits each row once.
    """
    now = now_iso()
    rows = db.query(
        """
        SELECT outbox.id, outbox.chat_id, outbox.topic, outbox.attempts, outbox.story_id, outbox.queued_at,
               articles.id AS article_id, articles.title, articles.source,
               coalesce(nullif(articles.canonical_url, ''), articles.url) AS url,
               articles.published, articles.text, matches.terms
        FROM outbox
        JOIN articles ON articles.id = outbox.article_id
        LEFT JOIN matches ON matches.article_id = outbox.article_id AND matches.topic = outbox.topic
        WHERE (outbox.state = 'pending' OR (outbox.state = 'sending' AND outbox.lease_until <= ?))
              AND (outbox.not_before IS NULL OR outbox.not_before <= ?)
              AND outbox.id > ?
              AND outbox.chat_id NOT IN (SELECT chat_id FROM chats WHERE muted_until > ?)
        ORDER BY outbox.id LIMIT ?
        """, [now, now, after_id, now, limit])
    return [QueuedAlert(**{**row, "title": row["title"] or "", "text": boilerplate.left_out(db, row["text"] or ""),
                           "terms": tuple(json.loads(row["terms"] or "[]"))}) for row in rows]


def owner() -> str:
    """This process, as named in the claims it holds."""
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(db: sqlite_utils.Database, row_ids: list[int], lease: timedelta = LEASE) -> bool:
    """Take these alerts for sending, in one committed write; False (nothing taken) if another process
    holds or has sent any of them. A claim that cannot be written raises: nothing is then sent."""
    now = datetime.now(UTC).replace(microsecond=0)
    marks = ", ".join("?" * len(row_ids))
    try:
        with write(db):
            cursor = db.execute(
                f"UPDATE outbox SET state = 'sending', claimed_by = ?, lease_until = ? WHERE id IN ({marks})"
                " AND (state = 'pending' OR (state = 'sending' AND lease_until <= ?))",
                [owner(), (now + lease).isoformat(), *row_ids, now.isoformat()])
            if cursor.rowcount != len(row_ids):
                raise _TakenError
    except _TakenError:
        return False
    return True


class _TakenError(Exception):
    """Some of the rows were claimed or sent by another process: the claim is rolled back."""


def release_orphans(db: sqlite_utils.Database) -> int:
    """Give back the claims of processes of this host that died holding them (kill -9); how many rows."""
    host, me = socket.gethostname(), os.getpid()
    dead = [o for (o,) in db.execute("SELECT DISTINCT claimed_by FROM outbox WHERE state = 'sending'")
            if o and _dead(o, host, me)]
    if not dead:
        return 0
    with write(db):
        cursor = db.execute("UPDATE outbox SET state = 'pending', claimed_by = NULL, lease_until = NULL"
                            f" WHERE state = 'sending' AND claimed_by IN ({', '.join('?' * len(dead))})", dead)
    return cursor.rowcount


def _dead(claimer: str, host: str, me: int) -> bool:
    name, _, pid = claimer.rpartition(":")
    if name != host or not pid.isdigit() or int(pid) == me:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


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


def deferred_chats(db: sqlite_utils.Database) -> set[Address]:
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


def sent_since(db: sqlite_utils.Database, chat_id: Address, since: str, delivery: str) -> list[str]:
    """When this chat's alerts sent the given way ('alert', 'digest', 'folded') since `since` went out."""
    return [r[0] for r in db.execute(
        "SELECT DISTINCT sent_at FROM outbox WHERE chat_id = ? AND state = 'sent' AND sent_at >= ?"
        " AND coalesce(delivery, 'alert') = ? ORDER BY sent_at", [chat_id, since, delivery])]


def count_sent_since(db: sqlite_utils.Database, chat_id: Address, since: str) -> int:
    """How many alerts this chat was sent one by one since `since`."""
    return int(db.execute(
        "SELECT count(*) FROM outbox WHERE chat_id = ? AND state = 'sent' AND sent_at >= ?"
        " AND coalesce(delivery, 'alert') = 'alert'", [chat_id, since]).fetchone()[0])


def mark_sent(db: sqlite_utils.Database, row_ids: int | list[int], message_id: int | None,
              delivery: str = "alert") -> None:
    """Record that Telegram (or the console) accepted the message carrying these alerts."""
    ids = [row_ids] if isinstance(row_ids, int) else row_ids
    now = now_iso()
    with write(db):
        db.conn.executemany("UPDATE outbox SET state = 'sent', sent_at = ?, message_id = ?, delivery = ?,"
                            " attempts = attempts + 1, claimed_by = NULL, lease_until = NULL WHERE id = ?",
                            [(now, message_id, delivery, i) for i in ids])


def mark_retry(db: sqlite_utils.Database, row_ids: int | list[int], error: str, not_before: str) -> None:
    """Keep these alerts pending after a temporary failure, to be tried again from `not_before`."""
    ids = [row_ids] if isinstance(row_ids, int) else row_ids
    with write(db):
        db.conn.executemany("UPDATE outbox SET state = 'pending', attempts = attempts + 1, last_error = ?,"
                            " not_before = ?, claimed_by = NULL, lease_until = NULL WHERE id = ?",
                            [(error, not_before, i) for i in ids])


def mark_failed(db: sqlite_utils.Database, row_ids: int | list[int], error: str) -> None:
    """Give up on these alerts for a permanent reason (chat not found, bot blocked)."""
    ids = [row_ids] if isinstance(row_ids, int) else row_ids
    with write(db):
        db.conn.executemany("UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?,"
                            " claimed_by = NULL, lease_until = NULL WHERE id = ?", [(error, i) for i in ids])


def release(db: sqlite_utils.Database, row_ids: list[int]) -> None:
    """Give back claimed alerts that were not sent after all (a pass cut short before their send)."""
    with write(db):
        db.conn.executemany("UPDATE outbox SET state = 'pending', claimed_by = NULL, lease_until = NULL"
                            " WHERE id = ? AND state = 'sending'", [(i,) for i in row_ids])


def record_migration(db: sqlite_utils.Database, chat_id: int, new_chat_id: int) -> None:
    """Telegram moved a group to a supergroup: its alerts go to the new id from now on."""
    with write(db):
        db.execute("INSERT OR REPLACE INTO chat_migrations VALUES (?, ?, ?)", [chat_id, new_chat_id, now_iso()])


def migrations(db: sqlite_utils.Database) -> dict[int, int]:
    """Chats Telegram moved, old id to new id."""
    return {r[0]: r[1] for r in db.execute("SELECT chat_id, new_chat_id FROM chat_migrations")}


def counts(db: sqlite_utils.Database) -> dict[str, int]:
    """How many alerts are pending, sent and failed."""
    result = {"pending": 0, "sending": 0, "sent": 0, "failed": 0}
    result.update({r["state"]: r["n"] for r in db.query(
        "SELECT state, count(*) AS n FROM outbox GROUP BY state")})
    return result


def failures(db: sqlite_utils.Database, limit: int = 20) -> list[dict[str, Any]]:
    """The most recent alerts given up on, with their reason."""
    return list(db.query("SELECT outbox.id, chat_id, topic, last_error, articles.title FROM outbox"
                    " JOIN articles ON articles.id = outbox.article_id WHERE state = 'failed'"
                    " ORDER BY outbox.id DESC LIMIT ?", [limit]))
