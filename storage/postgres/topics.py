"""What topic tools read and write, on PostgreSQL (storage.topics): each topic's running rule, archive scans."""

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

import psycopg
from psycopg.rows import dict_row

from storage.postgres import boilerplate
from storage.postgres.db import ARTICLE_COLUMNS, plain, rows


def record_rules(conn: psycopg.Connection, rules: Mapping[str, str]) -> None:
    """Remember each topic's rule (as JSON) as the one the matcher runs for it, where it changed."""
    for topic, rule in rules.items():
        fingerprint = hashlib.sha256(rule.encode()).hexdigest()[:12]
        conn.execute("INSERT INTO topic_rules VALUES (%s, %s, %s, date_trunc('second', now()))"
                     " ON CONFLICT (topic) DO UPDATE SET fingerprint = excluded.fingerprint, rule = excluded.rule,"
                     " since = excluded.since WHERE topic_rules.fingerprint != excluded.fingerprint",
                     [topic, fingerprint, rule])


def running_rule(conn: psycopg.Connection, topic: str) -> dict[str, Any] | None:
    """The rule the matcher last ran for `topic` (fingerprint, rule JSON, since), or None if never."""
    found = rows(conn, "SELECT fingerprint, rule, since FROM topic_rules WHERE topic = %s", [topic])
    return found[0] if found else None


def articles_since(conn: psycopg.Connection, since: str, *, batch: int = 500) -> Iterator[dict[str, Any]]:
    """Every article published (else fetched) since `since` (ISO), newest first, read in batches."""
    stamp = "coalesce(published, fetched_at)"
    last: tuple[Any, int] | None = None
    while True:
        after = f" AND ({stamp}, id) < (%s, %s)" if last else ""
        found = list(conn.cursor(row_factory=dict_row).execute(
            "SELECT id, source, url, canonical_url, title, text, language, published, fetched_at,"
            f" {stamp} AS stamp FROM articles WHERE {stamp} >= %s{after} ORDER BY stamp DESC, id DESC LIMIT %s",
            [since, *(last or ()), batch]))
        yield from ({**plain(row), "matching_text": boilerplate.left_out(conn, row["text"] or "")} for row in found)
        if len(found) < batch:
            return
        last = (found[-1]["stamp"], found[-1]["id"])


def find_by_url(conn: psycopg.Connection, url: str) -> dict[str, Any] | None:
    """The stored article with this URL (as fetched, canonical, or as carried by another source)."""
    found = rows(conn, f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE url = %(u)s OR canonical_url = %(u)s"
                       " OR id IN (SELECT article_id FROM article_sources WHERE url = %(u)s) LIMIT 1", {"u": url})
    return {**found[0], "matching_text": boilerplate.left_out(conn, found[0]["text"] or "")} if found else None
