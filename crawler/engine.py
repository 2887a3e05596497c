"""The one Scrapy crawler of an event loop, that every source's crawl is fed into as a job.

    crawl_source ─► Engine.crawl(run) ─► its first request, into the crawler's scheduler
                        ... politeness per host (downloader slots, robots.txt), limits per run (meta) ...
                    ◄── the run's requests and items have drained, its budget was spent, or it was cancelled

One crawler for every source makes politeness per host, not per source: Scrapy's downloader keeps one slot
(concurrency_per_domain, delay) per host, and the robots.txt middleware one entry per host, for all of them.
"""

import asyncio
import weakref
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.crawler import AsyncCrawlerRunner, Crawler

from crawler import budget
from crawler.config import CrawlConfig
from crawler.run import Run
from crawler.settings import crawl_settings
from crawler.spiders import SourceSpider


class Engine:
    """A long-lived crawler of one set of crawl defaults; a source's crawl is a Run fed into it."""

    def __init__(self, defaults: CrawlConfig) -> None:
        self.crawler = Crawler(SourceSpider, crawl_settings(defaults))
        self.runs: set[Run] = set()  # fed in, or about to be
        self.ended = False
        self.retired = False  # newer crawl defaults have their own engine: this one closes once unused
        self._closing: asyncio.Future[None] | None = None
        self._opened = asyncio.Event()
        self._task: asyncio.Future[None] | None = None
        self._starting = asyncio.ensure_future(self._start())

    async def _start(self) -> None:
        self.crawler.signals.connect(self._opened.set, signal=signals.spider_opened)
        self._task = asyncio.ensure_future(AsyncCrawlerRunner().crawl(self.crawler))
        self._task.add_done_callback(self._end)
        opened = asyncio.ensure_future(self._opened.wait())
        await asyncio.wait([opened, self._task], return_when=asyncio.FIRST_COMPLETED)
        if not self._opened.is_set():
            opened.cancel()
            self._task.result()  # its error, if it has one
            raise RuntimeError("the crawler stopped before it opened")

    def _end(self, task: asyncio.Future[None]) -> None:
        """The crawler is gone (the process stops): what was under way is cut short."""
        self.ended = True
        for run in list(self.runs):
            run.stop("shutdown")
            run.finish()

    async def crawl(self, run: Run) -> None:
        """Feed `run` in and wait until its requests have drained, or its budget is spent (then only the
        transfers under way finish). Cancelled, it drops what it still has queued."""
        self.runs.add(run)  # from now on, a retired engine waits for this run before it closes
        try:
            await asyncio.shield(self._starting)
            await self._crawl(run)
        finally:
            self.runs.discard(run)
            self._close_if_unused()

    async def _crawl(self, run: Run) -> None:
        spider, engine = self.crawler.spider, self.crawler.engine
        if self.ended or engine is None:
            raise RuntimeError("the crawler has stopped")
        assert isinstance(spider, SourceSpider)
        timer = asyncio.get_running_loop().call_later(run.budget, self.stop, run, budget.REASON)
        try:
            self._polite(run)
            engine.crawl(await spider.first_request(run))
            await run.drained.wait()
        except asyncio.CancelledError:
            self.stop(run, "cancelled")
            raise
        finally:
            timer.cancel()

    def retire(self) -> None:
        """No new run comes here any more: close the crawler once the runs under way are done."""
        self.retired = True
        self._close_if_unused()

    def _close_if_unused(self) -> None:
        if self.retired and not self.runs and self._closing is None:
            self._closing = asyncio.ensure_future(self._close())

    async def _close(self) -> None:
        """Stop the crawler cleanly (its spider closed, its downloader's connections with it)."""
        await asyncio.wait([self._starting])  # started or failed to: either way, nothing is half open
        await self.crawler.stop_async()
        if self._task is not None:
            await asyncio.wait([self._task])

    def stop(self, run: Run, reason: str) -> None:
        """End a run early: its queued requests dropped, what is under way given its timeout to finish."""
        run.stop(reason)
        engine = self.crawler.engine
        if engine is not None:
            budget.drop_queued(engine.downloader, run)
        grace = run.timeout + run.defaults.extract_timeout.total_seconds() + 1
        asyncio.get_running_loop().call_later(grace, run.finish)

    def _polite(self, run: Run) -> None:
        """A source's own `delay:` holds for its whole host (the longest, if its sources disagree)."""
        engine = self.crawler.engine
        if run.source.delay is None or engine is None:
            return
        host = urlsplit(run.source.url).hostname or ""
        downloader = engine.downloader
        own = downloader.per_slot_settings.setdefault(host, {})
        own["delay"] = max(run.source.delay.total_seconds(), own.get("delay", 0.0))
        if host in downloader.slots:
            downloader.slots[host].delay = own["delay"]


_engines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Engine]] = weakref.WeakKeyDictionary()


def engine_for(defaults: CrawlConfig) -> Engine:
    """This event loop's engine for these crawl defaults, started on first use and kept until other defaults
    come (a config reload): then the engines of the older ones close once their runs are done."""
    engines = _engines.setdefault(asyncio.get_running_loop(), {})
    key = defaults.model_dump_json()
    if key not in engines or engines[key].ended:
        for old in engines.values():
            old.retire()
        engines.clear()
        engines[key] = Engine(defaults)
    return engines[key]
