"""Watched pages on PostgreSQL (storage.watch): their versions, and the article each change becomes."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from storage import fields
from storage.articles import ARTICLE_FIELDS
from storage.postgres.db import iso, rows
from storage.postgres.outbox import queue
from storage.watch import GONE_AFTER, Version


def latest(conn: psycopg.Connection, source: str) -> Version | None:
    """The last version kept of the watch `source`, or None before its first check."""
    found = rows(conn, "SELECT * FROM watch_versions WHERE source = %s ORDER BY number DESC LIMIT 1", [source])
    return _version(found[0]) if found else None


def history(conn: psycopg.Connection, source: str) -> list[Version]:
    """Every version kept of the watch `source`, newest first."""
    return [_version(r) for r in rows(conn, "SELECT * FROM watch_versions WHERE source = %s ORDER BY number DESC",
                                      [source])]


def _version(row: dict[str, Any]) -> Version:
    return Version(row["source"], row["number"], row["fetched_at"], row["title"], row["lines"], row["added"],
                   row["removed"], row["article_id"])


def record_version(conn: psycopg.Connection, source: str, url: str, title: str, lines: Sequence[str],
                   added: Sequence[str], removed: Sequence[str], chats: Sequence[int],
                   summary: Sequence[str] = ()) -> Version:
    """storage.watch.record_version on PostgreSQL."""
    now = datetime.now(UTC).replace(microsecond=0)
    with conn.transaction():
        row = conn.execute("SELECT coalesce(max(number), 0) FROM watch_versions WHERE source = %s", [source]).fetchone()
        number = 1 + int(row[0] if row else 0)
        article_id = None
        if number > 1:
            article_id = _alerted(conn, source, {"url": url, "canonical_url": f"{url}#version-{number}-{source}",
                                                 "title": f"Changed: {title or url}", "text": "\n".join(added),
                                                 "published": iso(now)}, chats, summary)
        conn.execute("INSERT INTO watch_versions VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                     [source, number, now, url, title, Jsonb(list(lines)), Jsonb(list(added)), Jsonb(list(removed)),
                      article_id])
        conn.execute("DELETE FROM watch_gone WHERE source = %s", [source])
    return Version(source, number, iso(now) or "", title, list(lines), list(added), list(removed), article_id)


def record_gone(conn: psycopg.Connection, source: str, url: str, status: int, chats: Sequence[int]) -> bool:
    """storage.watch.record_gone on PostgreSQL."""
    with conn.transaction():
        counted = conn.execute(
            "INSERT INTO watch_gone (source, checks, since) VALUES (%s, 1, now()) ON CONFLICT (source)"
            " DO UPDATE SET checks = watch_gone.checks + 1 RETURNING checks, since", [source]).fetchone()
        checks, since = counted if counted else (0, None)
        if checks != GONE_AFTER:
            return False
        last = latest(conn, source)
        title = last.title if last and last.title else url
        gone = f"{url}#gone-{source}-{iso(since)}"
        _alerted(conn, source, {"url": url, "canonical_url": gone, "title": f"Gone: {title}",
                                "text": f"The page answers HTTP {status} ({checks} checks in a row).",
                                "published": iso(datetime.now(UTC))}, chats)
        return True


def _alerted(conn: psycopg.Connection, source: str, row: dict[str, Any], chats: Sequence[int],
             summary: Sequence[str] = ()) -> int:
    """storage.watch._alerted on PostgreSQL: the change's article, a story of its own, and its alerts."""
    article = fields.cleaned({**dict.fromkeys(ARTICLE_FIELDS), "source": source, "full_text": True, **row})
    columns = ", ".join(article)
    inserted = conn.execute(f"INSERT INTO articles ({columns}, fetched_at) VALUES ({', '.join(['%s'] * len(article))},"
                            " now()) RETURNING id", list(article.values())).fetchone()
    article_id = int(inserted[0]) if inserted else 0
    conn.execute("UPDATE articles SET story_id = id WHERE id = %s", [article_id])
    conn.execute("INSERT INTO article_sources VALUES (%s, %s, %s, now())", [article_id, source, article["url"]])
    conn.execute("INSERT INTO article_urls VALUES (%s, %s)", [article["canonical_url"], article_id])
    if chats:
        conn.execute("INSERT INTO matches VALUES (%s, %s, %s, now())", [article_id, source, Jsonb(list(summary))])
        for chat in chats:
            queue(conn, article_id, article_id, source, chat)
    return article_id
