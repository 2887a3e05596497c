"""The spider: from a source (feed, listing page or sitemap) to article pages to items.

    feed    ─► parse_feed (feedparser) ──────────┐
    page    ─► parse_listing (links:, follow:) ──┼─► follow: new, allowed entries only ─► article page
    sitemap ─► parse_sitemap (index, news) ──────┘       ─► parse_article (trafilatura, in the extraction pool)
                                                          └► page failed: the source's own text kept
"""

import dataclasses
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Self, TypeVar

import scrapy
from pebble.common import ProcessExpired
from scrapy.crawler import Crawler
from scrapy.exceptions import DownloadCancelledError
from scrapy.http import Request, Response, TextResponse
from twisted.python.failure import Failure

from crawler.addresses import WEB_SCHEMES
from crawler.budget import BudgetSpent
from crawler.canonical import article_url, canonical_url, tracking_params
from crawler.config import CrawlConfig, Source
from crawler.entries import has_time_of_day, html_to_text
from crawler.extract import Extracted, extract_bounded
from crawler.feeds import Entry, FeedError, parse_feed
from crawler.items import ArticleItem
from crawler.middlewares import AddressRefused
from crawler.sitemaps import SitemapLink, is_recent, read_sitemap_body
from crawler.workers import run_bounded
from storage import Archive, articles, health

T = TypeVar("T")


class SourceSpider(scrapy.Spider):
    """Crawl one source from config once (`dry_run`: collect items without reading or writing the archive)."""

    name = "veille"

    def __init__(self, source: Source, archive: Archive | None, defaults: CrawlConfig | None = None,
                 dry_run: bool = False, **kwargs: Any) -> None:
        super().__init__(name=source.name, **kwargs)
        self.source = source
        self.archive = archive
        self.defaults = defaults or CrawlConfig()
        self.dry_run = dry_run or archive is None
        self.errors: list[str] = []
        self.collected: list[ArticleItem] = []
        self.max_articles = source.max_articles or self.defaults.max_articles
        self.followed = 0
        self.sitemaps = 0  # child sitemaps requested (at most max_sitemaps)
        self.max_sitemaps = source.max_sitemaps or self.defaults.max_sitemaps
        self.validators: tuple[str | None, str | None] | None = None

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
        seen = {}
        if self.archive is not None and not self.dry_run:
            seen = await self.archive.read(health.validators, self.source.name)
        if "etag" in seen:
            headers["If-None-Match"] = seen["etag"]
        if "last_modified" in seen:
            headers["If-Modified-Since"] = seen["last_modified"]
        callback = {"feed": self.parse_feed, "page": self.parse_listing, "sitemap": self.parse_sitemap}
        yield Request(self.source.url, callback=callback[self.source.kind], errback=self.source_failed,
                      headers=headers, meta={"handle_httpstatus_list": [304], "page": 1}, dont_filter=True)

    def source_failed(self, failure: Failure) -> None:
        """The source's own URL (or one of its listing pages or child sitemaps) could not be fetched."""
        if not failure.check(BudgetSpent):  # the crawl's error says so already
            self.errors.append(describe(failure))

    def _remember_validators(self, response: Response) -> None:
        """Keep the ETag and Last-Modified of the source's own URL, for a conditional GET next time.

        They are saved only once the crawl has stored every article without error (see crawler.runner):
        saved earlier, a crawl killed or failing in between would be answered 304 next time, its
        articles never fetched again.
        """
        if response.request is not None and response.request.url == self.source.url:
            self.validators = (_header(response, "ETag"), _header(response, "Last-Modified"))

    async def _parsed(self, response: Response, func: Callable[..., T], *args: Any) -> T | None:
        """func(*args) in the worker pool (feedparser, lxml), bounded by extract_timeout; None, and the
        source's error, when it fails or takes too long."""
        timeout = self.defaults.extract_timeout.total_seconds()
        try:
            return await run_bounded(func, args, source=self.source.name, timeout=timeout)
        except (FeedError, ValueError) as exc:
            self.errors.append(f"{response.url}: {exc}" if isinstance(exc, ValueError) else str(exc))
        except TimeoutError:
            self.errors.append(f"{response.url}: reading it took over {timeout:g}s (crawl.extract_timeout)")
        except ProcessExpired as exc:
            self.errors.append(f"{response.url}: the worker reading it died ({exc})")
        return None

    async def parse_feed(self, response: Response) -> AsyncIterator[Request]:
        """Read the feed and request the page of every entry the archive does not hold yet."""
        if response.status == 304:
            return
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
        entries = await self._parsed(response, parse_feed, response.body, content_type, response.url)
        if entries is None:
            return
        self._remember_validators(response)
        async for request in self.follow(response, self._matching(entries)):
            yield request

    async def parse_listing(self, response: Response) -> AsyncIterator[Request]:
        """Read the article links (`links:`) of a listing page, and its next page (`follow:`) up to `max_pages`."""
        if response.status == 304:
            return
        if not isinstance(response, TextResponse):
            self.errors.append(f"{response.url}: not an HTML page")
            return
        assert self.source.links is not None
        entries = []
        for node in response.css(self.source.links):
            href = node.attrib.get("href") or node.css("a::attr(href)").get()
            if href:
                title = html_to_text(node.get() if node.attrib.get("href") else node.css("a").get() or "")
                entries.append(Entry(link=href.strip(), guid=None, title=title, summary="", author=None,
                                     published=None))
        if not entries and response.meta.get("page", 1) == 1:
            self.errors.append(f"{response.url}: no link matches links: {self.source.links!r}")
            return
        self._remember_validators(response)
        async for request in self.follow(response, self._matching(entries)):
            yield request
        page = int(response.meta.get("page", 1))
        next_href = response.css(self.source.follow).attrib.get("href") if self.source.follow else None
        if next_href and page < self.source.max_pages:
            for request in self._request(response, next_href, callback=self.parse_listing,
                                         errback=self.source_failed, meta={"page": page + 1}):
                yield request

    async def parse_sitemap(self, response: Response) -> AsyncIterator[Request]:
        """Read a sitemap (recent, matching entries) or a sitemap index (its recent child sitemaps)."""
        if response.status == 304:
            return
        found = await self._parsed(response, read_sitemap_body, response.body,
                                   self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
        if found is None:
            return
        kind, links = found
        self._remember_validators(response)
        since = datetime.now(UTC) - (self.source.recent or self.defaults.recent)
        links = [link for link in links if is_recent(link, since)]
        if kind == "sitemapindex":
            for request in self._children(response, links):
                yield request
            return
        entries = [Entry(link=link.loc, guid=None, title=link.title, summary="", author=None,
                         published=link.date) for link in links]
        async for request in self.follow(response, self._matching(entries)):
            yield request

    def _children(self, response: Response, links: list[SitemapLink]) -> Iterator[Request]:
        """The child sitemaps of an index, within `sitemap_depth` and `max_sitemaps` (an index may point to
        indexes without end: the rest is said once and left)."""
        depth = int(response.meta.get("sitemap_depth", 0)) + 1
        if depth > self.defaults.sitemap_depth:
            self.logger.warning("source %s: %s is an index deeper than sitemap_depth (%d): not followed",
                                self.source.name, response.url, self.defaults.sitemap_depth)
            return
        room = self.max_sitemaps - self.sitemaps
        if len(links) > room:
            self.logger.warning("source %s: more child sitemaps than max_sitemaps (%d): %d of %s left",
                                self.source.name, self.max_sitemaps, len(links) - max(room, 0), response.url)
        for link in links[:max(room, 0)]:
            for request in self._request(response, link.loc, callback=self.parse_sitemap,
                                         errback=self.source_failed, meta={"sitemap_depth": depth}):
                self.sitemaps += 1
                yield request

    def _request(self, response: Response, href: str, **kwargs: Any) -> Iterator[Request]:
        """A request for a link the source gave (joined to its page), or none, counted and said, when the link
        is no web address (javascript:, mailto:, a bad port, a broken IPv6 literal...)."""
        link = response.urljoin(href)
        if link.split(":", 1)[0].lower() not in WEB_SCHEMES:
            self._skipped(response, "only http(s) links are followed", [link])
            return
        try:
            request = Request(link, **kwargs)
        except ValueError as exc:
            self._skipped(response, str(exc), [link])
            return
        yield request

    def _skipped(self, response: Response, reason: str, links: list[str]) -> None:
        if self.crawler.stats:
            self.crawler.stats.inc_value("veille/links_skipped", len(links))
        self.logger.info("skipped %d link(s) of %s (%s), such as %.200s", len(links), response.url, reason,
                         links[0])

    def _matching(self, entries: Iterable[Entry]) -> list[Entry]:
        """The entries whose URL matches the source's `match:` pattern (all of them without one)."""
        pattern = re.compile(self.source.match) if self.source.match else None
        return [e for e in entries if pattern is None or pattern.search(e.link)]

    async def follow(self, response: Response, entries: list[Entry]) -> AsyncIterator[Request]:
        """Request the page of every web entry the archive does not hold yet, up to `max_articles`."""
        by_url: dict[str, Entry] = {}
        guids: set[str] = set()
        skipped: dict[str, list[str]] = {}
        for entry in entries:
            link = response.urljoin(entry.link)
            if link.split(":", 1)[0].lower() not in WEB_SCHEMES:
                skipped.setdefault("only http(s) links are followed", []).append(link)
            elif entry.guid and entry.guid in guids:  # a feed repeating a GUID: its first entry is the article
                skipped.setdefault("GUID already given to an earlier entry", []).append(link)
            else:
                by_url.setdefault(canonical_url(link, self.tracking), dataclasses.replace(entry, link=link))
                guids.update([entry.guid] if entry.guid else [])
        for reason, links in skipped.items():
            self._skipped(response, reason, links)
        held: set[str] = set()
        if self.archive is not None and not self.dry_run:
            held = await self.archive.read(articles.known, self.source.name, list(by_url),
                                           [e.guid for e in entries if e.guid])
            if held:  # not fetched again, but this source carried it too: "also in" and counts say so
                await self.archive.write(articles.also_carried, self.source.name,
                                         {u: e.link for u, e in by_url.items() if u in held})
        for url, entry in by_url.items():
            if url in held or (entry.guid and entry.guid in held) or self.followed >= self.max_articles:
                continue
            # dont_filter: entries are deduplicated above; a redirect loop must end in the errback, not vanish
            for request in self._request(response, entry.link, callback=self.parse_article,
                                         errback=self.article_failed, cb_kwargs={"entry": entry},
                                         meta={"entry": entry}, dont_filter=True):
                self.followed += 1
                yield request

    async def parse_article(self, response: Response, entry: Entry) -> AsyncIterator[ArticleItem]:
        """Keep the page's main text and fill what the feed lacked from the page's metadata."""
        found = None
        if isinstance(response, TextResponse) and _is_html(response):
            # what the entry already says is not searched for in the page
            found = await extract_bounded(response.text, response.url, self.defaults.extract_timeout.total_seconds(),
                                          find_date=entry.published is None,
                                          metadata=not (entry.title and entry.author), source=self.source.name)
        else:
            self.logger.info("article page %s: not an HTML page (%s); keeping the feed's text", response.url,
                             _header(response, "Content-Type") or "no content type")
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
            published=self._published(entry, found),
            language=found.language or _page_language(response),
        )

    def _published(self, entry: Entry, found: Extracted) -> str | None:
        """A feed entry's own time; for a page or sitemap article, a time of day first, the page's before the
        sitemap's (its <lastmod> may be a later change), then a date alone, the page's first."""
        if self.source.kind == "feed":
            return entry.published or found.published
        dates = [d for d in (found.published, entry.published) if d]
        return next((d for d in dates if has_time_of_day(d)), None) or next(iter(dates), None)

    def article_failed(self, failure: Failure) -> Iterator[ArticleItem]:
        """The page could not be fetched: keep the article with the feed's own text, marked as such."""
        entry: Entry = failure.request.meta["entry"]  # type: ignore[attr-defined]
        if failure.check(AddressRefused, BudgetSpent):
            return  # a link the guard refused is no article of ours; one left for the next round is fetched then
        url = failure.request.url  # type: ignore[attr-defined]  # the link as Scrapy normalised it
        self.logger.info("article page %s: %s; keeping the feed's text", url, describe(failure))
        yield self._from_feed(entry, url)

    def _from_feed(self, entry: Entry, url: str) -> ArticleItem:
        return ArticleItem(source=self.source.name, url=url, canonical_url=canonical_url(entry.link, self.tracking),
                           guid=entry.guid, title=entry.title, text=entry.summary, author=entry.author,
                           published=entry.published, full_text=False)


def describe(failure: Failure) -> str:
    """A one-line reason for a failed request."""
    response = getattr(failure.value, "response", None)
    if response is not None:
        return f"HTTP {response.status} from {response.url}"
    message = failure.getErrorMessage()
    # Twisted's ResponseFailed (wrapped by Scrapy) says "[<Failure ...>]": name its reasons instead
    reasons = getattr(getattr(failure.value, "__cause__", None), "reasons", None)
    if reasons:
        message = "; ".join(dict.fromkeys(f"{r.type.__name__}: {r.getErrorMessage()}" for r in reasons))
    if not message and failure.check(DownloadCancelledError):
        message = "its body grew past max_bytes while it arrived"  # Scrapy's cancel at DOWNLOAD_MAXSIZE says nothing
    return f"{failure.type.__name__ if failure.type else 'error'}: {message}"


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _is_html(response: Response) -> bool:
    """Whether a page is HTML or XHTML (an untyped page is taken as HTML); an SVG image, a feed or a PDF is not."""
    media_type = (response.headers.get("Content-Type") or b"text/html").decode("latin-1").split(";")[0].strip().lower()
    return "html" in media_type or media_type in ("text/xml", "application/xml")


def _page_language(response: Response) -> str | None:
    lang = response.xpath("/html/@lang").get() if isinstance(response, TextResponse) else None
    return lang.split("-")[0].lower() if lang else None
