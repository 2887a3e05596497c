"""Chats as the bot knows them: topics they subscribed to from Telegram, and alerts paused (/mute).

The chats named in config.yaml are not stored here: config is the source of those, and they cannot be
removed from Telegram.
"""

from datetime import UTC, datetime

import sqlite_utils

from storage.db import now_iso


def subscribe(db: sqlite_utils.Database, chat_id: int, topic: str) -> bool:
    """Subscribe a chat to a topic; False if it already was."""
    with db.atomic():
        cursor = db.execute("INSERT OR IGNORE INTO subscriptions VALUES (?, ?, ?)", [chat_id, topic, now_iso()])
    return cursor.rowcount > 0


def unsubscribe(db: sqlite_utils.Database, chat_id: int, topic: str) -> bool:
    """Remove a chat's subscription to a topic; False if it had none."""
    with db.atomic():
        cursor = db.execute("DELETE FROM subscriptions WHERE chat_id = ? AND topic = ?", [chat_id, topic])
    return cursor.rowcount > 0


def subscribers(db: sqlite_utils.Database) -> dict[str, set[int]]:
    """The chats subscribed from Telegram, by topic."""
    found: dict[str, set[int]] = {}
    for chat_id, topic in db.execute("SELECT chat_id, topic FROM subscriptions"):
        found.setdefault(topic, set()).add(chat_id)
    return found


def mute(db: sqlite_utils.Database, chat_id: int, until: datetime) -> None:
    """Hold this chat's alerts in the outbox until `until`."""
    with db.atomic():
        db.execute("INSERT INTO chats (chat_id, muted_until) VALUES (?, ?)"
                   " ON CONFLICT(chat_id) DO UPDATE SET muted_until = excluded.muted_until",
                   [chat_id, until.astimezone(UTC).replace(microsecond=0).isoformat()])


def unmute(db: sqlite_utils.Database, chat_id: int) -> None:
    """Let this chat's alerts flow again."""
    with db.atomic():
        db.execute("UPDATE chats SET muted_until = NULL WHERE chat_id = ?", [chat_id])


def muted_until(db: sqlite_utils.Database, chat_id: int) -> datetime | None:
    """Until when this chat is muted, or None if it is not."""
    row = db.execute("SELECT muted_until FROM chats WHERE chat_id = ? AND muted_until > ?",
                     [chat_id, now_iso()]).fetchone()
    return datetime.fromisoformat(row[0]) if row else None


def subscriptions_of(db: sqlite_utils.Database, chat_id: int) -> set[str]:
    """The topics this chat subscribed to from Telegram."""
    return {row[0] for row in db.execute("SELECT topic FROM subscriptions WHERE chat_id = ?", [chat_id])}


def subscribed_chats(db: sqlite_utils.Database) -> set[int]:
    """Every chat that holds at least one subscription made from Telegram."""
    return {row[0] for row in db.execute("SELECT DISTINCT chat_id FROM subscriptions")}
