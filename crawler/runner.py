"""Running crawls: every given source at once, as jobs of the loop's one crawler, with a report per source."""

import asyncio
import dataclasses
import logging
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

from crawler import budget
from crawler.config import CrawlConfig, Source
from crawler.engine import engine_for
from crawler.items import ArticleItem
from crawler.run import Run
from storage import Archive, StorageError, health
from storage.units import format_duration

log = logging.getLogger("veille.crawl")
# Source crawls running at once in a process; the others wait their turn. A crawl's time budget runs from
# its start: a thousand sources let loose together would spend theirs queued behind each other's hosts.
# Not fewer: a crawl mostly waits on the network, and 200 sources every 10 s already need about 100 slots.
CONCURRENT_SOURCES = 128


_slots_of: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _slots() -> asyncio.Semaphore:
    """This loop's crawl slots."""
    return _slots_of.setdefault(asyncio.get_running_loop(), asyncio.Semaphore(CONCURRENT_SOURCES))


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
    async with _slots():
        started = time.monotonic()
        run = Run(source, defaults, archive)
        error: str | None = None
        try:
            await engine_for(defaults).crawl(run)
        except asyncio.CancelledError:
            log.warning("source %s: crawl cut short: its feed is read in full next time", source.name)
            raise
        except Exception as exc:  # a crawl that dies is this source's error, never the others'
            error = f"crawl failed: {exc!r}"
    error = error or _error(run)
    if error is None and run.validators and archive is not None:
        try:  # every article is stored: the next crawl may ask "modified since?"
            await archive.write(health.save_validators, source.name, *run.validators)
        except StorageError as exc:
            error = str(exc)
    return CrawlReport(source.name, run.seen, run.new, error, time.monotonic() - started), run.collected


def _error(run: Run) -> str | None:
    """What went wrong in a crawl that ran, or None."""
    if run.errors:
        return "; ".join(dict.fromkeys(run.errors))
    if run.stopped == budget.REASON:
        allowed = format_duration(run.source.budget or run.defaults.budget)
        return f"its time budget ({allowed}) was spent: the rest is fetched next round"
    if run.stopped:
        return f"crawl cut short ({run.stopped})"
    return None


async def crawl_all(sources: Iterable[Source], defaults: CrawlConfig,
                    archive: Archive) -> list[CrawlReport]:
    """Crawl every enabled source concurrently; a failing source never stops the others."""
    jobs = [crawl_source(s, defaults, archive) for s in sources if s.enabled]
    return list(await asyncio.gather(*jobs))
