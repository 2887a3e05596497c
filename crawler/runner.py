"""Running crawls: every given source at once, in the one asyncio reactor, with a report per source."""

import asyncio
import dataclasses
import logging
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

from scrapy.crawler import AsyncCrawlerRunner, Crawler

from crawler import budget
from crawler.config import CrawlConfig, Source
from crawler.items import ArticleItem
from crawler.settings import crawl_settings
from crawler.spiders import SourceSpider
from storage import Archive, StorageError, health
from storage.units import format_duration

log = logging.getLogger("veille.crawl")
# Crawls running at once in a process; the others wait their turn. Each crawl is a Scrapy crawler of its own
# (~0.7 MiB, and a share of the loop): a thousand sources due at once would otherwise all start together.
# Not fewer: a crawl mostly waits on the network, and 200 sources every 10 s already need about 100 slots.
CONCURRENT_SOURCES = 128


@dataclass
class _Pool:
    """The crawl slots and the one Scrapy runner of an event loop."""

    slots: asyncio.Semaphore
    runner: AsyncCrawlerRunner


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pool] = weakref.WeakKeyDictionary()


def _pool() -> _Pool:
    """This loop's pool: a runner built for each crawl would cost a settings copy (milliseconds) every time."""
    loop = asyncio.get_running_loop()
    if loop not in _pools:
        _pools[loop] = _Pool(asyncio.Semaphore(CONCURRENT_SOURCES), AsyncCrawlerRunner())
    return _pools[loop]


@dataclass(frozen=True)
class CrawlReport:
    """The outcome of one crawl of one source."""

    source: str
    seen: int
    new: int
    error: str | None
    seconds: float
    skipped_until: str | None = None


async def crawl_source(source: Source, defaults: CrawlConfig, archive: Archive) -> CrawlReport:
    """Crawl one source once, store its new articles, record its health, and say how it went.

    A source backing off after failures is skipped until its next attempt time.
    """
    interval = source.interval or defaults.interval
    until = await archive.read(health.backing_off, source.name, slack=interval / 10)
    if until:
        log.info("source %s: backing off after failures until %s", source.name, until)
        return CrawlReport(source.name, 0, 0, None, 0.0, skipped_until=until)
    report, _ = await run_spider(source, defaults, archive)
    try:
        await archive.write(health.record_crawl, source.name, error=report.error, seen=report.seen,
                            new=report.new, interval=interval, ceiling=defaults.max_backoff)
    except StorageError as exc:  # the archive cannot be written: said below, tried again next round
        report = dataclasses.replace(report, error=report.error or str(exc))
    if report.error:
        log.error("source %s: %s (%.1fs)", source.name, report.error, report.seconds)
    else:
        log.info("source %s: %d items, %d new (%.1fs)", source.name, report.seen, report.new, report.seconds)
    return report


async def run_spider(source: Source, defaults: CrawlConfig,
                     archive: Archive | None) -> tuple[CrawlReport, list[ArticleItem]]:
    """One crawl of one source: stored in `archive`, or only collected and returned when it is None.

    Waits for a free slot first (CONCURRENT_SOURCES); the time reported is the crawl's, not the wait's.
    """
    pool = _pool()
    async with pool.slots:
        started = time.monotonic()
        crawler = Crawler(SourceSpider, crawl_settings(defaults, source))
        error: str | None = None
        try:
            await pool.runner.crawl(crawler, source=source, archive=archive, defaults=defaults)
        except Exception as exc:  # a crawl that dies is this source's error, never the others'
            error = f"crawl failed: {exc!r}"
    task = asyncio.current_task()
    if task is not None and task.cancelling():  # Scrapy may end the crawl quietly when it is cancelled
        log.warning("source %s: crawl cut short: its feed is read in full next time", source.name)
        raise asyncio.CancelledError
    spider = crawler.spider
    if error is None and isinstance(spider, SourceSpider) and spider.errors:
        error = "; ".join(dict.fromkeys(spider.errors))
    stats = crawler.stats.get_stats() if crawler.stats else {}
    reason = stats.get("finish_reason")
    if error is None and reason == budget.REASON:
        allowed = format_duration(source.budget or defaults.budget)
        error = f"its time budget ({allowed}) was spent: the rest is fetched next round"
    elif error is None and reason != "finished":
        error = f"crawl cut short ({reason or 'not finished'})"
    if error is None and isinstance(spider, SourceSpider) and spider.validators and archive is not None:
        try:  # every article is stored: the next crawl may ask "modified since?"
            await archive.write(health.save_validators, source.name, *spider.validators)
        except StorageError as exc:
            error = str(exc)
    report = CrawlReport(source.name, int(stats.get("veille/items_seen", 0)),
                         int(stats.get("veille/items_new", 0)), error, time.monotonic() - started)
    return report, spider.collected if isinstance(spider, SourceSpider) else []


async def crawl_all(sources: Iterable[Source], defaults: CrawlConfig,
                    archive: Archive) -> list[CrawlReport]:
    """Crawl every enabled source concurrently; a failing source never stops the others."""
    jobs = [crawl_source(s, defaults, archive) for s in sources if s.enabled]
    return list(await asyncio.gather(*jobs))
