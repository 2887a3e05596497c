"""The spider: from a source's feed to article pages to items.

    feed ─► parse_feed (feedparser) ─► new entries only ─► article page ─► parse_article (trafilatura)
                                                                       └► page failed: feed text kept
"""

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any, Self

import scrapy
import sqlite_utils
from scrapy.crawler import Crawler
from scrapy.http import Request, Response, TextResponse
from twisted.python.failure import Failure

from crawler.canonical import article_url, canonical_url, tracking_params
from crawler.config import Source
from crawler.extract import extract
from crawler.feeds import Entry, FeedError, parse_feed
from crawler.items import ArticleItem
from storage import articles, health


class SourceSpider(scrapy.Spider):
    """Crawl one source from config once."""

    name = "veille"

    def __init__(self, source: Source, archive: sqlite_utils.Database, **kwargs: Any) -> None:
        super().__init__(name=source.name, **kwargs)
        self.source = source
        self.archive = archive
        self.errors: list[str] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._on_error, signal=scrapy.signals.spider_error)
        return spider

    @property
    def tracking(self) -> frozenset[str]:
        """The extra tracking parameters of config's `crawl.tracking_params`."""
        return tracking_params(self.settings.getlist("VEILLE_TRACKING_PARAMS"))

    def _on_error(self, failure: Failure, response: Response, spider: scrapy.Spider) -> None:
        self.errors.append(f"{response.url}: {failure.getErrorMessage()}")

    async def start(self) -> AsyncIterator[Request]:
        headers = {}
        seen = health.validators(self.archive, self.source.name)
        if "etag" in seen:
            headers["If-None-Match"] = seen["etag"]
        if "last_modified" in seen:
            headers["If-Modified-Since"] = seen["last_modified"]
        yield Request(self.source.url, callback=self.parse_feed, errback=self.source_failed,
                      headers=headers, meta={"handle_httpstatus_list": [304]}, dont_filter=True)

    def source_failed(self, failure: Failure) -> None:
        """The source's own URL could not be fetched: a source error."""
        self.errors.append(describe(failure))

    def parse_feed(self, response: Response) -> Iterator[Request]:
        """Read the feed and request the page of every entry the archive does not hold yet."""
        if response.status == 304:
            return
        try:
            entries = parse_feed(response.body, (response.headers.get("Content-Type") or b"").decode("latin-1"),
                                 response.url)
        except FeedError as exc:
            self.errors.append(str(exc))
            return
        health.save_validators(self.archive, self.source.name,
                               _header(response, "ETag"), _header(response, "Last-Modified"))
        by_url = {canonical_url(response.urljoin(e.link), self.tracking): e for e in entries}
        held = articles.known(self.archive, self.source.name, by_url,
                              [e.guid for e in entries if e.guid])
        for url, entry in by_url.items():
            if url in held or (entry.guid and entry.guid in held):
                continue
            yield Request(response.urljoin(entry.link), callback=self.parse_article,
                          errback=self.article_failed, cb_kwargs={"entry": entry},
                          meta={"entry": entry})

    async def parse_article(self, response: Response, entry: Entry) -> AsyncIterator[ArticleItem]:
        """Keep the page's main text and fill what the feed lacked from the page's metadata."""
        found = None
        if isinstance(response, TextResponse) and _is_html(response):
            found = await asyncio.to_thread(extract, response.text, response.url)
        if found is None:
            yield self._from_feed(entry, response.url)
            return
        yield ArticleItem(
            source=self.source.name,
            url=response.url,
            canonical_url=article_url(entry.link, found.canonical, self.tracking),
            aliases=[canonical_url(entry.link, self.tracking)],
            guid=entry.guid,
            title=entry.title or found.title or "",
            text=found.text,
            author=entry.author or found.author,
            published=entry.published or found.published,
            language=found.language or _page_language(response),
        )

    def article_failed(self, failure: Failure) -> Iterator[ArticleItem]:
        """The page could not be fetched: keep the article with the feed's own text, marked as such."""
        entry: Entry = failure.request.meta["entry"]  # type: ignore[attr-defined]
        self.logger.info("article page %s: %s; keeping the feed's text", entry.link, describe(failure))
        yield self._from_feed(entry, entry.link)

    def _from_feed(self, entry: Entry, url: str) -> ArticleItem:
        return ArticleItem(source=self.source.name, url=url, canonical_url=canonical_url(entry.link, self.tracking),
                           guid=entry.guid, title=entry.title, text=entry.summary, author=entry.author,
                           published=entry.published, full_text=False)


def describe(failure: Failure) -> str:
    """A one-line reason for a failed request."""
    response = getattr(failure.value, "response", None)
    if response is not None:
        return f"HTTP {response.status} from {response.url}"
    return f"{failure.type.__name__ if failure.type else 'error'}: {failure.getErrorMessage()}"


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _is_html(response: Response) -> bool:
    content_type = (response.headers.get("Content-Type") or b"text/html").decode("latin-1").lower()
    return "html" in content_type or "xml" in content_type


def _page_language(response: Response) -> str | None:
    lang = response.xpath("/html/@lang").get() if isinstance(response, TextResponse) else None
    return lang.split("-")[0].lower() if lang else None
