"""An article already held, met again from another source: that source is recorded, the page is not fetched
again, and no second alert goes out."""

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from alerts.config import Topic
from alerts.matcher import match_pending
from crawler.config import Source
from crawler.feeds import Entry
from crawler.run import Run
from crawler.spiders import SourceSpider
from storage import articles, open_archive, stories
from tests.conftest import SOVEREIGN, port

TOPIC = Topic(name="cloud", keywords=["cloud souverain"], chats=[-1001])
HELD = "https://journal.example/articles/doctrine"


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    archive = open_archive(tmp_path / "veille.db")
    articles.store(archive, {"source": "premier", "url": HELD, "canonical_url": HELD, "title": SOVEREIGN.title,
                             "text": "\n".join(SOVEREIGN.body)})
    assert asyncio.run(match_pending(port(archive), [TOPIC], timedelta(days=3650))) == 1
    return archive


def follow(db: sqlite_utils.Database, source: str, links: list[str]) -> list[str]:
    """The pages a spider of `source` requests for a feed giving these links."""
    spider = SourceSpider.from_crawler(get_crawler(SourceSpider))
    run = Run(Source(name=source, feed="https://agregateur.example/rss.xml"), archive=port(db))
    feed = HtmlResponse("https://agregateur.example/rss.xml", body=b"")
    entries = [Entry(link=link, guid=None, title="T", summary="", author=None, published=None) for link in links]

    async def requested() -> list[str]:
        return [request.url async for request in spider.follow(run, feed, entries)]

    return asyncio.run(requested())


def test_a_held_article_linked_by_another_source_records_that_source_without_a_fetch(db: Any) -> None:
    fetched = follow(db, "second", [f"{HELD}?utm_source=rss", "https://journal.example/articles/autre"])
    assert fetched == ["https://journal.example/articles/autre"]
    article_id = db.execute("SELECT id FROM articles").fetchone()[0]
    assert articles.get(db, article_id)["sources"] == ["premier", "second"]
    assert stories.outlets(db, article_id) == ["premier", "second"]
    assert db.execute("SELECT url FROM article_sources WHERE source = 'second'").fetchall() == [
        (f"{HELD}?utm_source=rss",)]  # the link as the second source gave it
    assert asyncio.run(match_pending(port(db), [TOPIC], timedelta(days=3650))) == 0
    assert db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 1


def test_a_source_already_recorded_writes_nothing(db: Any) -> None:
    assert articles.also_carried(db, "premier", {HELD: HELD}) == 0
    assert articles.also_carried(db, "second", {HELD: HELD, "https://ailleurs.example/x": "x"}) == 1
    assert articles.also_carried(db, "second", {HELD: HELD}) == 0
