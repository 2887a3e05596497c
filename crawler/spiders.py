"""The spider: from a source (feed, listing page or sitemap) to article pages to items.

    feed    ─► parse_feed (feedparser) ──────────┐
    page    ─► parse_listing (links:, follow:) ──┼─► follow: new, allowed entries only ─► article page
    sitemap ─► parse_sitemap (index, news) ──────┘       ─► parse_article (trafilatura, in the extraction pool)
                                                          └► page failed: the source's own text kept
    watch   ─► parse_watch: a changed page becomes a version and an article (crawler.watch)
"""

import dataclasses
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Self, TypeVar

import scrapy
from pebble.common import ProcessExpired
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, DownloadCancelledError
from scrapy.http import Request, Response, TextResponse
from twisted.python.failure import Failure

from crawler import watch
from crawler.addresses import WEB_SCHEMES
from crawler.budget import Stopped
from crawler.canonical import article_url, canonical_url
from crawler.entries import has_time_of_day, html_to_text
from crawler.extract import Extracted, extract_bounded
from crawler.feeds import Entry, FeedError, parse_feed
from crawler.items import ArticleItem
from crawler.middlewares import AddressRefused
from crawler.run import Run
from crawler.sitemaps import SitemapLink, is_recent, read_sitemap_body
from crawler.workers import run_bounded
from storage import articles, health

T = TypeVar("T")


class SourceSpider(scrapy.Spider):
    """The one spider of the crawler: it crawls whichever source a request's run (meta "run") belongs to.

    It starts with nothing and never closes when idle: sources are fed in as jobs (crawler.engine).
    """

    name = "veille"

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._on_error, signal=scrapy.signals.spider_error)
        crawler.signals.connect(spider._on_idle, signal=scrapy.signals.spider_idle)
        crawler.signals.connect(spider._on_dropped, signal=scrapy.signals.request_dropped)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        return
        yield  # an async generator with nothing in it: the sources come as jobs

    def _on_idle(self) -> None:
        raise DontCloseSpider

    def _on_error(self, failure: Failure, response: Response | Failure, spider: scrapy.Spider) -> None:
        request = getattr(response, "request", None)
        run = request.meta.get("run") if request is not None else None
        if isinstance(run, Run):
            run.errors.append(f"{request.url}: {failure.getErrorMessage()}")  # type: ignore[union-attr]

    def _on_dropped(self, request: Request) -> None:
        run = request.meta.get("run")
        if isinstance(run, Run):  # refused by the scheduler: its callback never runs
            run.release()

    async def first_request(self, run: Run) -> Request:
        """The request of the source's own URL, conditional on the validators of its last complete crawl."""
        headers = {}
        seen = {}
        if run.archive is not None and not run.dry_run:
            seen = await run.archive.read(health.validators, run.source.name)
        if "etag" in seen:
            headers["If-None-Match"] = seen["etag"]
        if "last_modified" in seen:
            headers["If-Modified-Since"] = seen["last_modified"]
        callback = {"feed": self.parse_feed, "page": self.parse_listing, "sitemap": self.parse_sitemap,
                    "watch": self.parse_watch}
        statuses = [304, *watch.GONE] if run.source.kind == "watch" else [304]
        return run.request(run.source.url, callback[run.source.kind], self.source_failed, headers=headers,
                           meta={"handle_httpstatus_list": statuses, "page": 1}, dont_filter=True)

    def source_failed(self, failure: Failure) -> None:
        """The source's own URL (or one of its listing pages or child sitemaps) could not be fetched."""
        if not failure.check(Stopped):  # the crawl's error says so already
            _run(failure.request).errors.append(describe(failure))  # type: ignore[attr-defined]

    @staticmethod
    def _remember_validators(run: Run, response: Response) -> None:
        """Keep the ETag and Last-Modified of the source's own URL, for a conditional GET next time.

        They are saved only once the crawl has stored every article without error (see crawler.runner):
        saved earlier, a crawl killed or failing in between would be answered 304 next time, its
        articles never fetched again.
        """
        if response.request is not None and response.request.url == run.source.url:
            run.validators = (_header(response, "ETag"), _header(response, "Last-Modified"))

    async def _parsed(self, run: Run, response: Response, func: Callable[..., T], *args: Any) -> T | None:
        """func(*args) in the worker pool (feedparser, lxml), bounded by extract_timeout; None, and the
        source's error, when it fails or takes too long."""
        timeout = run.defaults.extract_timeout.total_seconds()
        try:
            return await run_bounded(func, args, source=run.source.name, timeout=timeout)
        except (FeedError, ValueError) as exc:
            run.errors.append(f"{response.url}: {exc}" if isinstance(exc, ValueError) else str(exc))
        except TimeoutError:
            run.errors.append(f"{response.url}: reading it took over {timeout:g}s (crawl.extract_timeout)")
        except ProcessExpired as exc:
            run.errors.append(f"{response.url}: the worker reading it died ({exc})")
        return None

    async def parse_feed(self, response: Response) -> AsyncIterator[Request]:
        """Read the feed and request the page of every entry the archive does not hold yet."""
        if response.status == 304:
            return
        run = _run(response.request)
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
        entries = await self._parsed(run, response, parse_feed, response.body, content_type, response.url)
        if entries is None:
            return
        self._remember_validators(run, response)
        async for request in self.follow(run, response, self._matching(run, entries)):
            yield request

    async def parse_watch(self, response: Response) -> AsyncIterator[Request]:
        """A watched page: its change, if it changed, kept as a version and an article (crawler.watch)."""
        await watch.check(_run(response.request), response)
        return
        yield  # an async generator, as the run's tracking expects of a callback

    async def parse_listing(self, response: Response) -> AsyncIterator[Request]:
        """Read the article links (`links:`) of a listing page, and its next page (`follow:`) up to `max_pages`."""
        if response.status == 304:
            return
        run = _run(response.request)
        source = run.source
        if not isinstance(response, TextResponse):
            run.errors.append(f"{response.url}: not an HTML page")
            return
        assert source.links is not None
        entries = []
        for node in response.css(source.links):
            href = node.attrib.get("href") or node.css("a::attr(href)").get()
            if href:
                title = html_to_text(node.get() if node.attrib.get("href") else node.css("a").get() or "")
                entries.append(Entry(link=href.strip(), guid=None, title=title, summary="", author=None,
                                     published=None))
        if not entries and response.meta.get("page", 1) == 1:
            run.errors.append(f"{response.url}: no link matches links: {source.links!r}")
            return
        self._remember_validators(run, response)
        async for request in self.follow(run, response, self._matching(run, entries)):
            yield request
        page = int(response.meta.get("page", 1))
        next_href = response.css(source.follow).attrib.get("href") if source.follow else None
        if next_href and page < source.max_pages:
            for request in self._request(run, response, next_href, callback=self.parse_listing,
                                         errback=self.source_failed, meta={"page": page + 1}, dont_filter=True):
                yield request

    async def parse_sitemap(self, response: Response) -> AsyncIterator[Request]:
        """Read a sitemap (recent, matching entries) or a sitemap index (its recent child sitemaps)."""
        if response.status == 304:
            return
        run = _run(response.request)
        found = await self._parsed(run, response, read_sitemap_body, response.body, run.max_bytes)
        if found is None:
            return
        kind, links = found
        self._remember_validators(run, response)
        since = datetime.now(UTC) - (run.source.recent or run.defaults.recent)
        links = [link for link in links if is_recent(link, since)]
        if kind == "sitemapindex":
            for request in self._children(run, response, links):
                yield request
            return
        entries = [Entry(link=link.loc, guid=None, title=link.title, summary="", author=None,
                         published=link.date) for link in links]
        async for request in self.follow(run, response, self._matching(run, entries)):
            yield request

    def _children(self, run: Run, response: Response, links: list[SitemapLink]) -> Iterator[Request]:
        """The child sitemaps of an index, within `sitemap_depth` and `max_sitemaps` (an index may point to
        indexes without end: the rest is said once and left)."""
        depth = int(response.meta.get("sitemap_depth", 0)) + 1
        if depth > run.defaults.sitemap_depth:
            self.logger.warning("source %s: %s is an index deeper than sitemap_depth (%d): not followed",
                                run.source.name, response.url, run.defaults.sitemap_depth)
            return
        room = run.max_sitemaps - run.sitemaps
        if len(links) > room:
            self.logger.warning("source %s: more child sitemaps than max_sitemaps (%d): %d of %s left",
                                run.source.name, run.max_sitemaps, len(links) - max(room, 0), response.url)
        for link in links[:max(room, 0)]:
            for request in self._request(run, response, link.loc, callback=self.parse_sitemap,
                                         errback=self.source_failed, meta={"sitemap_depth": depth},
                                         dont_filter=True):
                run.sitemaps += 1
                yield request

    def _request(self, run: Run, response: Response, href: str, **kwargs: Any) -> Iterator[Request]:
        """A request for a link the source gave (joined to its page), or none, counted and said, when the link
        is no web address (javascript:, mailto:, a bad port, a broken IPv6 literal...)."""
        link = response.urljoin(href)
        if link.split(":", 1)[0].lower() not in WEB_SCHEMES:
            self._skipped(response, "only http(s) links are followed", [link])
            return
        try:
            request = run.request(link, **kwargs)
        except ValueError as exc:
            self._skipped(response, str(exc), [link])
            return
        yield request

    def _skipped(self, response: Response, reason: str, links: list[str]) -> None:
        if self.crawler.stats:
            self.crawler.stats.inc_value("veille/links_skipped", len(links))
        self.logger.info("skipped %d link(s) of %s (%s), such as %.200s", len(links), response.url, reason,
                         links[0])

    @staticmethod
    def _matching(run: Run, entries: Iterable[Entry]) -> list[Entry]:
        """The entries whose URL matches the source's `match:` pattern (all of them without one)."""
        pattern = re.compile(run.source.match) if run.source.match else None
        return [e for e in entries if pattern is None or pattern.search(e.link)]

    async def follow(self, run: Run, response: Response, entries: list[Entry]) -> AsyncIterator[Request]:
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
                by_url.setdefault(canonical_url(link, run.tracking), dataclasses.replace(entry, link=link))
                guids.update([entry.guid] if entry.guid else [])
        for reason, links in skipped.items():
            self._skipped(response, reason, links)
        held: set[str] = set()
        if run.archive is not None and not run.dry_run:
            held = await run.archive.read(articles.known, run.source.name, list(by_url),
                                          [e.guid for e in entries if e.guid])
            if held:  # not fetched again, but this source carried it too: "also in" and counts say so
                await run.archive.write(articles.also_carried, run.source.name,
                                        {u: e.link for u, e in by_url.items() if u in held})
        for url, entry in by_url.items():
            if url in held or (entry.guid and entry.guid in held) or run.followed >= run.max_articles:
                continue
            # dont_filter: entries are deduplicated above; a redirect loop must end in the errback, not vanish
            for request in self._request(run, response, entry.link, callback=self.parse_article,
                                         errback=self.article_failed, cb_kwargs={"entry": entry},
                                         meta={"entry": entry}, dont_filter=True):
                run.followed += 1
                yield request

    async def parse_article(self, response: Response, entry: Entry) -> AsyncIterator[ArticleItem]:
        """Keep the page's main text and fill what the feed lacked from the page's metadata."""
        run = _run(response.request)
        found = None
        if isinstance(response, TextResponse) and _is_html(response):
            # what the entry already says is not searched for in the page
            found = await extract_bounded(response.text, response.url, run.defaults.extract_timeout.total_seconds(),
                                          find_date=entry.published is None,
                                          metadata=not (entry.title and entry.author), source=run.source.name)
        else:
            self.logger.info("article page %s: not an HTML page (%s); keeping the feed's text", response.url,
                             _header(response, "Content-Type") or "no content type")
        if found is None:
            yield _from_feed(run, entry, response.url)
            return
        yield ArticleItem(
            source=run.source.name,
            url=response.url,
            canonical_url=article_url(entry.link, found.canonical, run.tracking),
            aliases=[canonical_url(entry.link, run.tracking)],
            guid=entry.guid,
            title=entry.title or found.title or "",
            text=found.text,
            author=entry.author or found.author,
            published=_published(run, entry, found),
            language=found.language or _page_language(response),
        )

    def article_failed(self, failure: Failure) -> Iterator[ArticleItem]:
        """The page could not be fetched: keep the article with the feed's own text, marked as such."""
        request: Request = failure.request  # type: ignore[attr-defined]
        if failure.check(AddressRefused, Stopped):
            return  # a link the guard refused is no article of ours; one left for the next round is fetched then
        url = request.url  # the link as Scrapy normalised it
        self.logger.info("article page %s: %s; keeping the feed's text", url, describe(failure))
        yield _from_feed(_run(request), request.meta["entry"], url)


def _run(request: Request | None) -> Run:
    """The source crawl a request belongs to."""
    assert request is not None
    run = request.meta["run"]
    assert isinstance(run, Run)
    return run


def _published(run: Run, entry: Entry, found: Extracted) -> str | None:
    """A feed entry's own time; for a page or sitemap article, a time of day first, the page's before the
    sitemap's (its <lastmod> may be a later change), then a date alone, the page's first."""
    if run.source.kind == "feed":
        return entry.published or found.published
    dates = [d for d in (found.published, entry.published) if d]
    return next((d for d in dates if has_time_of_day(d)), None) or next(iter(dates), None)


def _from_feed(run: Run, entry: Entry, url: str) -> ArticleItem:
    return ArticleItem(source=run.source.name, url=url, canonical_url=canonical_url(entry.link, run.tracking),
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
