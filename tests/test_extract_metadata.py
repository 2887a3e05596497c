"""The page's metadata (title, author, date) is read only when the feed entry lacks it: trafilatura's metadata
pass costs milliseconds a page and changes nothing the feed already said."""

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
import trafilatura
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

import crawler.extract
from crawler.config import Source
from crawler.feeds import Entry
from crawler.items import ArticleItem
from crawler.run import Run
from crawler.spiders import SourceSpider
from tests.conftest import UNRELATED, article_page

URL = "https://journal.example/articles/fibre"
PUBLISHED = datetime(2026, 12, 2, 13, 35, tzinfo=UTC).isoformat()
FULL = Entry(link=URL, guid="fibre", title="La fibre dans le Cantal", summary="Résumé.", author="Paul Durand",
             published=PUBLISHED)


def crawled(monkeypatch: pytest.MonkeyPatch, entry: Entry, page: str) -> tuple[ArticleItem, list[bool]]:
    """The item a feed spider makes of `entry` and its page, and for each call of trafilatura's extraction
    whether it read the page's metadata (the pool replaced by a call in this process)."""
    passes: list[bool] = []
    real = trafilatura.bare_extraction

    def recording(*args: Any, **kwargs: Any) -> Any:
        passes.append(bool(kwargs.get("with_metadata")))
        return real(*args, **kwargs)

    async def in_process(func: Any, args: tuple[Any, ...], *, source: str, timeout: float) -> Any:
        return func(*args)

    monkeypatch.setattr(trafilatura, "bare_extraction", recording)
    monkeypatch.setattr(crawler.extract, "run_bounded", in_process)
    spider = SourceSpider.from_crawler(get_crawler(SourceSpider))
    run = Run(Source(name="journal", feed="https://journal.example/rss.xml"))  # a dry run: no archive
    response = HtmlResponse(URL, body=page.encode(), encoding="utf-8", request=Request(URL, meta={"run": run}))

    async def items() -> list[ArticleItem]:
        return [item async for item in spider.parse_article(response, entry)]

    [item] = asyncio.run(items())
    return item, passes


def test_an_entry_with_title_author_and_date_reads_no_metadata_from_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    item, passes = crawled(monkeypatch, FULL, article_page(UNRELATED))
    assert passes and not any(passes)
    assert (item.title, item.author, item.published) == (FULL.title, FULL.author, PUBLISHED)
    assert item.full_text and UNRELATED.body[0] in item.text


@pytest.mark.parametrize("lacking", ["title", "author", "published"])
def test_an_entry_lacking_a_field_reads_the_pages_metadata(monkeypatch: pytest.MonkeyPatch, lacking: str) -> None:
    entry = dataclasses.replace(FULL, **{lacking: "" if lacking == "title" else None})
    item, passes = crawled(monkeypatch, entry, article_page(UNRELATED))  # the page declares no time of its own
    assert passes[0]
    if lacking == "title":
        assert item.title == UNRELATED.title
    if lacking == "author":
        assert item.author == "Claire Martin"  # the page's <meta name="author">


def test_a_date_the_page_declares_needs_no_metadata_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    page = article_page(UNRELATED).replace(
        "</head>", '<meta property="article:published_time" content="2026-12-02T14:35:00+01:00"></head>')
    item, passes = crawled(monkeypatch, dataclasses.replace(FULL, published=None), page)
    assert passes and not any(passes)
    assert item.published == PUBLISHED
