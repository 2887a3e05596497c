"""The pipeline in one process: crawl, match, deliver, once (`veille crawl`) or on schedule (`veille run`)."""

import asyncio
import contextlib
import logging
import random
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import sqlite_utils
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from telegram.error import InvalidToken, TelegramError

from alerts.bot import build_application
from alerts.dispatcher import ConsoleSender, Sender, TelegramSender, deliver
from alerts.matcher import match_pending
from crawler import CrawlReport, Source, crawl_all, crawl_source
from storage import open_archive, stories
from veille.config import Config

log = logging.getLogger("veille")
DELIVERY_EVERY = timedelta(seconds=5)


@contextlib.asynccontextmanager
async def sender_for(config: Config) -> AsyncIterator[Sender | None]:
    """Telegram when a token is set, else the console; None while Telegram cannot be reached."""
    token = config.telegram.resolved_token()
    if not token:
        yield ConsoleSender()
        return
    bot = build_application(config.telegram, token).bot
    try:
        await bot.initialize()
    except InvalidToken:
        log.error("Telegram rejected the bot token: alerts stay queued")
        yield None
        return
    except TelegramError as exc:
        log.error("Telegram cannot be reached (%s): alerts stay queued", exc.message)
        yield None
        return
    try:
        yield TelegramSender(bot)
    finally:
        with contextlib.suppress(TelegramError):
            await bot.shutdown()


async def match_and_deliver(config: Config, archive: sqlite_utils.Database, sender: Sender | None,
                            patience: float = 0.0) -> None:
    """Queue alerts for articles not yet matched, then send what is due."""
    queued = match_pending(archive, config.topics, config.alerts.max_age)
    if queued:
        log.info("%d alerts queued", queued)
    if sender is not None:
        await deliver(archive, sender, config.alerts.timezone, patience=patience)


def open_for_crawl(config: Config) -> sqlite_utils.Database:
    """The archive, set to group stories at the configured `dedup.threshold`."""
    archive = open_archive(config.storage.path)
    stories.configure(archive, config.dedup.threshold)
    return archive


async def crawl_once(config: Config) -> list[CrawlReport]:
    """Every source once, then match and deliver: `veille crawl`."""
    archive = open_for_crawl(config)
    try:
        reports = await crawl_all(config.sources, config.crawl, archive)
        async with sender_for(config) as sender:
            await match_and_deliver(config, archive, sender, patience=30.0)
        return reports
    finally:
        archive.close()


class Service:
    """`veille run`: each source on its interval, delivery as a job of its own, until a signal."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.archive = open_for_crawl(config)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.stopping = asyncio.Event()
        self.sender: Sender | None = None

    async def crawl(self, source: Source) -> None:
        """One scheduled crawl of one source, followed by matching and delivery."""
        await crawl_source(source, self.config.crawl, self.archive)
        await match_and_deliver(self.config, self.archive, self.sender)

    async def deliver(self) -> None:
        """Send whatever became due (deferred retries, alerts queued by a previous run)."""
        await match_and_deliver(self.config, self.archive, self.sender)

    def schedule(self) -> None:
        """One job per enabled source, spread over the first minute so that they do not all fire at once."""
        now = datetime.now(UTC)
        for source in self.config.sources:
            if not source.enabled:
                continue
            interval = source.interval or self.config.crawl.interval
            self.scheduler.add_job(
                self.crawl, "interval", args=[source], id=f"source:{source.name}", replace_existing=True,
                seconds=interval.total_seconds(), jitter=min(interval.total_seconds() / 10, 60),
                next_run_time=now + timedelta(seconds=random.uniform(0, min(interval.total_seconds(), 5))),
                max_instances=1, coalesce=True, misfire_grace_time=None)
        self.scheduler.add_job(self.deliver, "interval", id="deliver", replace_existing=True,
                               seconds=DELIVERY_EVERY.total_seconds(), max_instances=1, coalesce=True,
                               next_run_time=now)

    async def run(self) -> None:
        """Run until SIGTERM or SIGINT, then stop scheduling and let running jobs finish."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        async with sender_for(self.config) as sender:
            self.sender = sender
            self.schedule()
            self.scheduler.start()
            log.info("veille running: %d sources, %d topics", len(self.config.sources), len(self.config.topics))
            await self.stopping.wait()
            log.info("stopping")
            self.scheduler.shutdown(wait=False)
            await self._drain()
        self.archive.close()

    async def _drain(self, grace: float = 20.0) -> None:
        running = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()
                   and "run_coroutine_job" in repr(t.get_coro())]
        if running:
            await asyncio.wait(running, timeout=grace)
