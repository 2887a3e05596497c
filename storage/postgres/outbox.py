"""The alert outbox on PostgreSQL: alerts queued once per story, topic and chat, claimed by one deliverer.

A claim is one committed transaction: the rows are selected `FOR UPDATE SKIP LOCKED`, so that deliverers
claiming at the same moment each take rows the others have not locked (never the same row, never waiting
on each other), then marked 'sending' with their owner and a lease. Times are the server's clock (now()),
one clock for every machine that delivers. As on SQLite (storage.outbox), a claim whose lease has ended
may be taken again, and only the holder of a claim sends.
"""

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from storage.outbox import LEASE, Match, owner

# due and free: pending and not put off, or claimed by a holder whose lease ended; its chat not muted
CLAIMABLE = ("((state = 'pending' AND (not_before IS NULL OR not_before <= now()))"
             " OR (state = 'sending' AND lease_until <= now()))"
             " AND chat_id NOT IN (SELECT chat_id FROM chats WHERE muted_until > now())")


def record_matches(conn: psycopg.Connection, article: Mapping[str, Any], matches: Iterable[Match], *,
                   alert: bool) -> int:
    """Record the article's matches, mark it matched and, if `alert`, queue one alert per story, topic and
    chat, all in one transaction; how many alerts were queued (a story queued before is not queued again)."""
    queued = 0
    with conn.transaction():
        for match in matches:
            conn.execute("INSERT INTO matches VALUES (%s, %s, %s, now()) ON CONFLICT (article_id, topic)"
                         " DO UPDATE SET terms = excluded.terms, matched_at = excluded.matched_at",
                         [article["id"], match.topic, Jsonb(match.terms)])
            if alert:
                queued += sum(queue(conn, article["id"], article["story_id"] or article["id"], match.topic, chat)
                              for chat in match.chats)
        conn.execute("UPDATE articles SET matched_at = now() WHERE id = %s", [article["id"]])
    return queued


def queue(conn: psycopg.Connection, article_id: int, story_id: int, topic: str, chat_id: int) -> bool:
    """Queue one alert; False when this story was already queued for this topic and chat. Inside another
    transaction (record_matches'), part of it."""
    with conn.transaction():
        cursor = conn.execute(
            "INSERT INTO outbox (story_id, article_id, topic, chat_id, queued_at) VALUES (%s, %s, %s, %s, now())"
            " ON CONFLICT (story_id, topic, chat_id) DO NOTHING", [story_id, article_id, topic, chat_id])
        return cursor.rowcount == 1


def claim_pending(conn: psycopg.Connection, limit: int = 100, lease: timedelta = LEASE) -> list[int]:
    """Claim up to `limit` alerts that are due and that no other deliverer holds, oldest first; their ids."""
    with conn.transaction():
        rows = conn.execute(
            f"""UPDATE outbox SET state = 'sending', claimed_by = %s, lease_until = now() + %s
                WHERE id IN (SELECT id FROM outbox WHERE {CLAIMABLE} ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)
                RETURNING id""", [owner(), lease, limit]).fetchall()
    return sorted(row[0] for row in rows)


def claim(conn: psycopg.Connection, row_ids: list[int], lease: timedelta = LEASE) -> bool:
    """Take these alerts (one message's) for sending, all or none: False when another deliverer holds,
    is taking, or has sent any of them."""
    with conn.transaction():
        free = conn.execute(f"SELECT id FROM outbox WHERE id = ANY(%s) AND {CLAIMABLE} FOR UPDATE SKIP LOCKED",
                            [row_ids]).fetchall()
        if len(free) != len(set(row_ids)):
            return False  # leaving the block commits nothing: the rows locked are let go
        conn.execute("UPDATE outbox SET state = 'sending', claimed_by = %s, lease_until = now() + %s"
                     " WHERE id = ANY(%s)", [owner(), lease, row_ids])
    return True


def mark_sent(conn: psycopg.Connection, row_ids: list[int], message_id: int | None,
              delivery: str = "alert") -> None:
    """Record that the channel accepted the message carrying these alerts."""
    with conn.transaction():
        conn.execute("UPDATE outbox SET state = 'sent', sent_at = now(), message_id = %s, delivery = %s,"
                     " attempts = attempts + 1, claimed_by = NULL, lease_until = NULL WHERE id = ANY(%s)",
                     [message_id, delivery, row_ids])


def release(conn: psycopg.Connection, row_ids: list[int]) -> None:
    """Give back claimed alerts that were not sent after all."""
    with conn.transaction():
        conn.execute("UPDATE outbox SET state = 'pending', claimed_by = NULL, lease_until = NULL"
                     " WHERE id = ANY(%s) AND state = 'sending'", [row_ids])
