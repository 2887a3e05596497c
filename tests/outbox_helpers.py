"""Building an archive with queued alerts for delivery tests, through storage's own functions."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from storage import articles, outbox
from storage.db import open_archive


def archive(tmp_path: Path) -> sqlite_utils.Database:
    return open_archive(tmp_path / "veille.db")


def queue(db: sqlite_utils.Database, n: int, chats: list[int], *, title: str = "Cloud souverain {i}",
          topic: str = "cloud", queued_at: datetime | None = None, source: str = "journal") -> list[int]:
    """Store `n` articles and queue an alert for each to each chat; return the article ids."""
    ids = []
    for i in range(n):
        url = f"http://127.0.0.1/articles/{source}-{topic}-{i}-{len(chats)}"
        item: dict[str, Any] = {
            "source": source, "url": url, "canonical_url": url, "guid": url,
            "title": title.format(i=i), "published": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "text": f"Le cloud souverain avance encore. Paragraphe {i}.", "full_text": True}
        article = articles.get(db, articles.store(db, item).article_id)
        outbox.record_matches(db, article, [outbox.Match(topic, ["cloud souverain"], chats)], alert=True)
        ids.append(article["id"])
    if queued_at is not None:
        with db.atomic():
            db.execute("UPDATE outbox SET queued_at = ?", [queued_at.isoformat()])
    return ids


def states(db: sqlite_utils.Database) -> dict[str, int]:
    return outbox.counts(db)
