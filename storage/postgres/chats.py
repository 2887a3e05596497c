"""Chats as the bot knows them, on PostgreSQL (storage.chats): subscriptions made from Telegram, mutes."""

from datetime import datetime

import psycopg


def subscribe(conn: psycopg.Connection, chat_id: int, topic: str) -> bool:
    """Subscribe a chat to a topic; False if it already was."""
    return conn.execute("INSERT INTO subscriptions VALUES (%s, %s, now()) ON CONFLICT DO NOTHING",
                        [chat_id, topic]).rowcount > 0


def unsubscribe(conn: psycopg.Connection, chat_id: int, topic: str) -> bool:
    """Remove a chat's subscription to a topic; False if it had none."""
    return conn.execute("DELETE FROM subscriptions WHERE chat_id = %s AND topic = %s", [chat_id, topic]).rowcount > 0


def subscribers(conn: psycopg.Connection) -> dict[str, set[int]]:
    """The chats subscribed from Telegram, by topic."""
    found: dict[str, set[int]] = {}
    for chat_id, topic in conn.execute("SELECT chat_id, topic FROM subscriptions"):
        found.setdefault(topic, set()).add(chat_id)
    return found


def mute(conn: psycopg.Connection, chat_id: int, until: datetime) -> None:
    """Hold this chat's alerts in the outbox until `until`."""
    conn.execute("INSERT INTO chats VALUES (%s, date_trunc('second', %s::timestamptz)) ON CONFLICT (chat_id)"
                 " DO UPDATE SET muted_until = excluded.muted_until", [chat_id, until])


def unmute(conn: psycopg.Connection, chat_id: int) -> None:
    """Let this chat's alerts flow again."""
    conn.execute("UPDATE chats SET muted_until = NULL WHERE chat_id = %s", [chat_id])


def muted_until(conn: psycopg.Connection, chat_id: int) -> datetime | None:
    """Until when this chat is muted, or None if it is not."""
    row = conn.execute("SELECT muted_until FROM chats WHERE chat_id = %s AND muted_until > now()",
                       [chat_id]).fetchone()
    return row[0] if row else None


def subscriptions_of(conn: psycopg.Connection, chat_id: int) -> set[str]:
    """The topics this chat subscribed to from Telegram."""
    return {topic for (topic,) in conn.execute("SELECT topic FROM subscriptions WHERE chat_id = %s", [chat_id])}


def subscribed_chats(conn: psycopg.Connection) -> set[int]:
    """Every chat that holds at least one subscription made from Telegram."""
    return {chat for (chat,) in conn.execute("SELECT DISTINCT chat_id FROM subscriptions")}
