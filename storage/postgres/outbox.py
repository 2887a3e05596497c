"""The alert outbox on PostgreSQL: alerts queued once per story, topic and chat, claimed by one deliverer.

A claim is one committed transaction: the rows are selected `FOR UPDATE SKIP LOCKED`, so that deliverers
claiming at the same moment each take rows the others have not locked (never the same row, never waiting
on each other), then marked 'sending' with their owner and a lease. Times are the server's clock (now()),
one clock for every machine that delivers. As on SQLite (storage.outbox), a claim whose lease has ended
may be taken again, and only the holder of a claim sends.
"""

import os
import socket
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from storage.outbox import LEASE, Match, _dead, owner
from storage.postgres import boilerplate
from storage.postgres.db import ARTICLE_COLUMNS, iso, rows
from storage.records import Address, QueuedAlert, address

# due and free: pending and not put off, or claimed by a holder whose lease ended; its chat not muted
CLAIMABLE = ("((state = 'pending' AND (not_before IS NULL OR not_before <= now()))"
             " OR (state = 'sending' AND lease_until <= now()))"
             " AND chat_id NOT IN (SELECT chat_id::text FROM chats WHERE muted_until > now())")


def unmatched(conn: psycopg.Connection, limit: int = 500) -> list[dict[str, Any]]:
    """Articles stored but not yet run through the matcher, oldest first, each with `matching_text`: its text
    without the paragraphs known as boilerplate (storage.postgres.boilerplate), which topics match against."""
    found = rows(conn, f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE matched_at IS NULL ORDER BY id LIMIT %s",
                 [limit])
    return [{**row, "matching_text": boilerplate.left_out(conn, row["text"] or "")} for row in found]


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


def queue(conn: psycopg.Connection, article_id: int, story_id: int, topic: str, chat_id: Address) -> bool:
    """Queue one alert; False when this story was already queued for this topic and chat. Inside another
    transaction (record_matches'), part of it."""
    with conn.transaction():
        cursor = conn.execute(
            "INSERT INTO outbox (story_id, article_id, topic, chat_id, queued_at) VALUES (%s, %s, %s, %s, now())"
            " ON CONFLICT (story_id, topic, chat_id) DO NOTHING", [story_id, article_id, topic, str(chat_id)])
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


def pending(conn: psycopg.Connection, *, after_id: int = 0, limit: int = 100) -> list[QueuedAlert]:
    """Alerts waiting to be sent whose time has come, oldest first, with their article and terms; a muted
    chat's left out. `after_id` pages through them, so that one pass visits each row once."""
    found = rows(conn, f"""
        SELECT o.id, o.chat_id, o.topic, o.attempts, o.story_id, o.queued_at, a.id AS article_id, a.title,
               a.source, coalesce(nullif(a.canonical_url, ''), a.url) AS url, a.published, a.text,
               m.terms
        FROM outbox o JOIN articles a ON a.id = o.article_id
        LEFT JOIN matches m ON m.article_id = o.article_id AND m.topic = o.topic
        WHERE {CLAIMABLE} AND o.id > %s ORDER BY o.id LIMIT %s""", [after_id, limit])
    return [QueuedAlert(**{**row, "chat_id": address(row["chat_id"]), "title": row["title"] or "",
                           "text": boilerplate.left_out(conn, row["text"] or ""), "terms": tuple(row["terms"] or ())})
            for row in found]


def mark_sent(conn: psycopg.Connection, row_ids: int | list[int], message_id: int | None,
              delivery: str = "alert") -> None:
    """Record that the channel accepted the message carrying these alerts."""
    conn.execute("UPDATE outbox SET state = 'sent', sent_at = now(), message_id = %s, delivery = %s,"
                 " attempts = attempts + 1, claimed_by = NULL, lease_until = NULL WHERE id = ANY(%s)",
                 [message_id, delivery, _ids(row_ids)])


def mark_retry(conn: psycopg.Connection, row_ids: int | list[int], error: str, not_before: str) -> None:
    """Keep these alerts pending after a temporary failure, to be tried again from `not_before`."""
    conn.execute("UPDATE outbox SET state = 'pending', attempts = attempts + 1, last_error = %s,"
                 " not_before = %s, claimed_by = NULL, lease_until = NULL WHERE id = ANY(%s)",
                 [error, not_before, _ids(row_ids)])


def mark_failed(conn: psycopg.Connection, row_ids: int | list[int], error: str) -> None:
    """Give up on these alerts for a permanent reason (chat not found, bot blocked)."""
    conn.execute("UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = %s,"
                 " claimed_by = NULL, lease_until = NULL WHERE id = ANY(%s)", [error, _ids(row_ids)])


def _ids(row_ids: int | list[int]) -> list[int]:
    return [row_ids] if isinstance(row_ids, int) else list(row_ids)


def release(conn: psycopg.Connection, row_ids: list[int]) -> None:
    """Give back claimed alerts that were not sent after all."""
    conn.execute("UPDATE outbox SET state = 'pending', claimed_by = NULL, lease_until = NULL"
                 " WHERE id = ANY(%s) AND state = 'sending'", [row_ids])


def release_orphans(conn: psycopg.Connection) -> int:
    """Give back the claims of processes of this host that died holding them (kill -9); how many rows.
    Another host's claims wait for their lease to end: this host cannot tell whether their owner lives."""
    host, me = socket.gethostname(), os.getpid()
    dead = [o for (o,) in conn.execute("SELECT DISTINCT claimed_by FROM outbox WHERE state = 'sending'")
            if o and _dead(o, host, me)]
    if not dead:
        return 0
    return conn.execute("UPDATE outbox SET state = 'pending', claimed_by = NULL, lease_until = NULL"
                        " WHERE state = 'sending' AND claimed_by = ANY(%s)", [dead]).rowcount


def other_outlets(conn: psycopg.Connection, article_id: int, story_id: int | None, source: str) -> list[str]:
    """The other sources that carried this article or its story, by name."""
    return [name for (name,) in conn.execute(
        """SELECT name FROM (SELECT source AS name FROM article_sources WHERE article_id = %s
                             UNION SELECT source FROM articles WHERE story_id = %s) n
           WHERE name != %s ORDER BY name""", [article_id, story_id, source])]


def deferred_chats(conn: psycopg.Connection) -> set[Address]:
    """Chats with an alert put off after a failure and not due yet: their later alerts wait behind it."""
    return {address(chat) for (chat,) in conn.execute(
        "SELECT DISTINCT chat_id FROM outbox WHERE state = 'pending' AND not_before > now()")}


def next_due_in(conn: psycopg.Connection) -> float | None:
    """Seconds until the next alert put off after a failure is due (0 if now), or None if there is none."""
    row = conn.execute("SELECT extract(epoch FROM min(not_before) - now()) FROM outbox"
                       " WHERE state = 'pending' AND not_before IS NOT NULL").fetchone()
    return None if row is None or row[0] is None else max(float(row[0]), 0.0)


def sent_since(conn: psycopg.Connection, chat_id: Address, since: str, delivery: str) -> list[str]:
    """When this chat's alerts sent the given way ('alert', 'digest', 'folded') since `since` went out."""
    return [str(iso(sent)) for (sent,) in conn.execute(
        "SELECT DISTINCT sent_at FROM outbox WHERE chat_id = %s AND state = 'sent' AND sent_at >= %s"
        " AND coalesce(delivery, 'alert') = %s ORDER BY sent_at", [str(chat_id), since, delivery])]


def count_sent_since(conn: psycopg.Connection, chat_id: Address, since: str) -> int:
    """How many alerts this chat was sent one by one since `since`."""
    row = conn.execute("SELECT count(*) FROM outbox WHERE chat_id = %s AND state = 'sent' AND sent_at >= %s"
                       " AND coalesce(delivery, 'alert') = 'alert'", [str(chat_id), since]).fetchone()
    return int(row[0]) if row else 0


def record_migration(conn: psycopg.Connection, chat_id: int, new_chat_id: int) -> None:
    """Telegram moved a group to a supergroup: its alerts go to the new id from now on."""
    conn.execute("INSERT INTO chat_migrations VALUES (%s, %s, now()) ON CONFLICT (chat_id)"
                 " DO UPDATE SET new_chat_id = excluded.new_chat_id, migrated_at = excluded.migrated_at",
                 [chat_id, new_chat_id])


def migrations(conn: psycopg.Connection) -> dict[int, int]:
    """Chats Telegram moved, old id to new id."""
    return dict(conn.execute("SELECT chat_id, new_chat_id FROM chat_migrations").fetchall())


def counts(conn: psycopg.Connection) -> dict[str, int]:
    """How many alerts are pending, being sent, sent and failed."""
    result = {"pending": 0, "sending": 0, "sent": 0, "failed": 0}
    result.update(conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
    return result


def failures(conn: psycopg.Connection, limit: int = 20) -> list[dict[str, Any]]:
    """The most recent alerts given up on, with their reason."""
    found = rows(conn, "SELECT o.id, o.chat_id, o.topic, o.last_error, a.title FROM outbox o"
                       " JOIN articles a ON a.id = o.article_id WHERE o.state = 'failed'"
                       " ORDER BY o.id DESC LIMIT %s", [limit])
    return [{**row, "chat_id": address(row["chat_id"])} for row in found]
