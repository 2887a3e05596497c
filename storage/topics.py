"""What topic tools read and write: the rule each topic last ran with, and archive scans to try a topic on."""

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

import sqlite_utils

from storage import boilerplate
from storage.db import now_iso


def record_rules(db: sqlite_utils.Database, rules: Mapping[str, str]) -> None:
    """Remember each topic's rule (as JSON) as the one the matcher runs for it, where it changed."""
    with db.atomic():
        for topic, rule in rules.items():
            fingerprint = hashlib.sha256(rule.encode()).hexdigest()[:12]
            db.execute("INSERT INTO topic_rules VALUES (?, ?, ?, ?) ON CONFLICT (topic) DO UPDATE SET"
                       " fingerprint = excluded.fingerprint, rule = excluded.rule, since = excluded.since"
                       " WHERE topic_rules.fingerprint != excluded.fingerprint",
                       [topic, fingerprint, rule, now_iso()])


def running_rule(db: sqlite_utils.Database, topic: str) -> dict[str, Any] | None:
    """The rule the matcher last ran for `topic` (fingerprint, rule JSON, since), or None if never."""
    rows = list(db.query("SELECT fingerprint, rule, since FROM topic_rules WHERE topic = ?", [topic]))
    return rows[0] if rows else None


def articles_since(db: sqlite_utils.Database, since: str, *, batch: int = 500) -> Iterator[dict[str, Any]]:
    """Every article published (else fetched) since `since` (ISO), newest first, read in batches; each with
    `matching_text`, what topics match (storage.boilerplate.left_out)."""
    last = None
    while True:
        where, params = "coalesce(published, fetched_at) >= ?", [since]
        if last is not None:
            where += " AND (coalesce(published, fetched_at) < ? OR (coalesce(published, fetched_at) = ? AND id < ?))"
            params += [last[0], last[0], last[1]]
        rows = list(db.query(
            "SELECT id, source, url, canonical_url, title, text, language, published, fetched_at,"
            f" coalesce(published, fetched_at) AS stamp FROM articles WHERE {where}"
            " ORDER BY stamp DESC, id DESC LIMIT ?", [*params, batch]))
        yield from ({**row, "matching_text": boilerplate.left_out(db, row["text"] or "")} for row in rows)
        if len(rows) < batch:
            return
        last = (rows[-1]["stamp"], rows[-1]["id"])


def find_by_url(db: sqlite_utils.Database, url: str) -> dict[str, Any] | None:
    """The stored article with this URL (as fetched, canonical, or as carried by another source), with
    `matching_text`."""
    rows = list(db.query(
        "SELECT * FROM articles WHERE url = :u OR canonical_url = :u"
        " OR id IN (SELECT article_id FROM article_sources WHERE url = :u) LIMIT 1", {"u": url}))
    return {**rows[0], "matching_text": boilerplate.left_out(db, rows[0]["text"] or "")} if rows else None
