"""The pipeline in one process: crawl, match, deliver, once (`veille crawl`) or on schedule (`veille run`).

    Service.run ─► scheduler: one job per source (interval or cron, phased, never doubled)
                              a delivery job ─► matcher ─► dispatcher
                              a config watch job ─► reload: sources and topics swapped in place
                ─► SIGTERM/SIGINT: start nothing new, let running crawls and sends finish (grace), cancel
                    what is left (a cut crawl saves no validators), exit 0; a second signal stops at once
                ─► SIGHUP: reload now

`veille run --role` splits it across processes (any number of each, sharing one archive): `crawl` runs the
source jobs (with `crawl.queue`, each source's run first takes its lease in Redis, so that it is crawled once
per interval across workers), `deliver` the delivery job, `bot` the Telegram bot, `all` the three. Every
process beats in the archive's `workers` table (storage.workers, `veille status`); bot candidates (`bot` and
`all`) elect one leader through the archive (storage.leader) and only it polls Telegram.
"""

import asyncio
import contextlib
import logging
import os
import random
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application

from alerts.apprise_sender import AppriseSender
from alerts.bot import build_application, start_bot, stop_bot
from alerts.commands import BotState
from alerts.config import DeliveryRules
from alerts.dispatcher import Channels, ConsoleSender, DispatchReport, Sender, TelegramSender, deliver
from alerts.matcher import match_pending
from crawler import CrawlReport, Source, crawl_source
from crawler.shared import Leases
from crawler.workers import shutdown_pool, start_pool
from storage import Archive, StorageError, leader, outbox, stories, workers
from veille import metrics, progress
from veille.config import Config, ConfigError, load

log = logging.getLogger("veille")
DELIVERY_EVERY = timedelta(seconds=5)
WATCH_EVERY = timedelta(seconds=2)
LEAD_EVERY = timedelta(seconds=2)  # how often a bot candidate that does not lead tries again
BOT_RETRY = timedelta(seconds=10)  # how often a leader whose bot could not reach Telegram starts it again
Role = Literal["crawl", "deliver", "bot", "all"]
ROLES: tuple[Role, ...] = ("crawl", "deliver", "bot", "all")


async def connect(config: Config, *, quiet: bool = False) -> Sender | None:
    """Telegram when a token is set, else the console, with Apprise for the URL recipients; None while
    Telegram cannot be reached."""
    token = config.telegram.resolved_token()
    if not token:
        return Channels(ConsoleSender(), AppriseSender())
    bot = build_application(config.telegram, token).bot
    try:
        await bot.initialize()
    except (InvalidToken, TelegramError) as exc:
        reason = "it rejected the bot token" if isinstance(exc, InvalidToken) else exc.message
        log.log(logging.DEBUG if quiet else logging.ERROR,
                "Telegram cannot be reached (%s): alerts stay queued", reason)
        with contextlib.suppress(TelegramError):
            await bot.shutdown()
        return None
    return Channels(TelegramSender(bot), AppriseSender())


async def disconnect(sender: Sender | None) -> None:
    """Release the Telegram connection, if any."""
    bot = sender.bot if isinstance(sender, Channels) else sender
    if isinstance(bot, TelegramSender):
        with contextlib.suppress(TelegramError):
            await bot.bot.shutdown()


class ArchiveTrouble:
    """Says once that the archive cannot be written (not once per round), and once that it can again."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def failed(self, path: str, reason: str) -> None:
        level = logging.DEBUG if reason == self.reason else logging.ERROR
        log.log(level, "%s: %s: delivery stops until the archive can be written again", path, reason)
        self.reason = reason

    def ok(self, path: str) -> None:
        if self.reason is not None:
            log.info("%s can be written again: delivery resumes", path)
        self.reason = None


async def match_and_deliver(config: Config, archive: Archive, sender: Sender | None,
                            patience: float = 0.0, *, trouble: ArchiveTrouble | None = None,
                            stopping: asyncio.Event | None = None) -> DispatchReport | None:
    """Queue alerts for articles not yet matched, then send what is due.

    An archive that cannot be written (locked past the busy timeout, disk full) stops delivery, said once:
    nothing is sent whose claim could not be recorded, and what was not recorded is found again later.
    """
    trouble = trouble or ArchiveTrouble()
    try:
        queued = await match_pending(archive, config.topics, config.alerts.max_age)
        if queued:
            log.info("%d alerts queued", queued)
        # while Telegram cannot be reached, its chats' alerts wait and the other channels (Apprise) go on
        rules = DeliveryRules.build(config.alerts, config.topics, config.telegram)
        report = await deliver(archive, sender or Channels(None, AppriseSender()), config.alerts.timezone,
                               patience=patience, rules=rules, stopping=stopping)
    except StorageError as exc:
        trouble.failed(config.storage.shown, str(exc))
        return None
    except InvalidToken:
        log.error("Telegram rejected the bot token: alerts stay queued")
        return None
    trouble.ok(config.storage.shown)
    return report


def open_for_crawl(config: Config) -> Archive:
    """The archive, set to group stories at the configured `dedup.threshold`."""
    archive = Archive.open(config.storage.path, url=config.storage.url,
                           timeout=config.storage.timeout.total_seconds())
    try:
        archive.write_now(stories.configure, config.dedup.threshold, config.dedup.boilerplate_stories)
    except BaseException:
        archive.close()
        raise
    return archive


async def crawl_once(config: Config, *, terminal: bool | None = None) -> list[CrawlReport]:
    """Every source once, each source's new articles matched and their alerts sent as soon as that source is
    done (the slowest source holds up no one else's alerts), then whatever is still due: `veille crawl`.
    A banner first, progress as sources finish (a bar on a terminal), a summary line at the end."""
    archive = open_for_crawl(config)
    delivering = asyncio.Lock()  # one dispatcher at a time
    sender: Sender | None = None
    connected = False
    sources = [s for s in config.sources if s.enabled]
    log.info("%s", progress.banner(config, "crawl"))
    counter = progress.CrawlProgress(len(sources), terminal=terminal)

    async def deliver_now(patience: float = 0.0) -> None:
        nonlocal sender, connected
        async with delivering:
            if not connected:
                sender, connected = await connect(config), True
            report = await match_and_deliver(config, archive, sender, patience=patience)
            counter.alerts_sent += report.sent if report else 0

    async def crawl_and_deliver(source: Source) -> CrawlReport:
        report = await crawl_source(source, config.crawl, archive)
        counter.finished(report)
        if report.new:
            await deliver_now()
        return report

    try:
        await start_pool()
        with counter:
            reports = list(await asyncio.gather(*(crawl_and_deliver(s) for s in sources)))
        await deliver_now(patience=30.0)
        log.info("%s", counter.summary())
        if hint := progress.failing_hint(reports):
            log.error("%s", hint)
        return reports
    finally:
        await disconnect(sender)
        shutdown_pool()
        archive.close()


class PhasedInterval(IntervalTrigger):
    """Every interval from its start date, however late the last run was: the gap between two runs stays the
    interval (APScheduler's `jitter` is carried from one run into the next: up to interval + jitter)."""

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        if now < self.start_date:
            return self.start_date
        return self.start_date + ((now - self.start_date) // self.interval + 1) * self.interval


def trigger_for(source: Source, config: Config, first: datetime) -> BaseTrigger:
    """The source's schedule: its cron line, or its interval (else the crawl default) after its `first` run.

    Sources keep a phase of their own, so that they do not all fire at once: the second run comes half an
    interval to an interval after the first, at random, then every interval.
    """
    if source.cron:
        return CronTrigger.from_crontab(source.cron, timezone=config.alerts.timezone)
    seconds = (source.interval or config.crawl.interval).total_seconds()
    return PhasedInterval(seconds=seconds, start_date=first + timedelta(seconds=seconds * random.uniform(0.5, 1)),
                          timezone=UTC)


class Service:
    """`veille run`: each source on its schedule, delivery as a job of its own, until a signal."""

    def __init__(self, config: Config, config_path: Path, *, grace: float = 20.0, role: Role = "all") -> None:
        self.config = config
        self.config_path = config_path
        self.grace = grace
        self.role = role
        self.crawls, self.delivers = role in ("crawl", "all"), role in ("deliver", "all")
        # a bot candidate only with a token: without one there is no bot to lead
        self.candidate = role in ("bot", "all") and bool(config.telegram.resolved_token())
        self.archive = open_for_crawl(config)
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.worker = f"{self.host}:{self.pid}"
        self.leases = Leases(config.crawl.queue) if config.crawl.queue and self.crawls else None
        self.leadership = leader.candidate(config.storage.path, config.storage.url) if self.candidate else None
        self.leading: bool | None = None  # not asked yet
        self.bot_retry_at = 0.0  # when a leader without a bot may try to start it again (monotonic)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.scheduler.add_listener(self._overrun, EVENT_JOB_MAX_INSTANCES)
        self.stopping = asyncio.Event()
        self.hurry = asyncio.Event()  # a second signal: stop at once
        self.trouble = ArchiveTrouble()
        self.sender: Sender | None = None
        self.running: set[asyncio.Task[Any]] = set()
        self.delivering = asyncio.Lock()
        self.due = False  # articles stored since the last delivery began
        self.bot: Application | None = None
        self.bot_state = BotState(config.telegram, config.topics, self.archive, config.alerts.timezone)
        self.last_crawls: dict[str, CrawlReport] = {}
        self.all_failing = False
        self._stamp = self._config_stamp()

    async def _tracked(self, work: Callable[[], Awaitable[None]]) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.running.add(task)
        try:
            await work()
        except asyncio.CancelledError:
            if not self.stopping.is_set():
                raise
            # cut short by `_drain`, which said so: no traceback from the scheduler
        finally:
            self.running.discard(task)

    async def crawl(self, name: str) -> None:
        """One scheduled crawl of one source, followed by matching and delivery."""
        source = next((s for s in self.config.sources if s.name == name), None)
        if source is None or self.stopping.is_set():
            return

        if self.leases and not await self.leases.take(job_id := f"source:{name}", self._lease_seconds(source, job_id)):
            log.debug("source %s: crawled by another worker this round, skipped", name)
            return

        async def work() -> None:
            report = await crawl_source(source, self.config.crawl, self.archive)
            self._count(report)
            self._failing(report)
            if self.delivers and report.new:
                self._deliver_soon()

        await self._tracked(work)

    def _deliver_soon(self) -> None:
        """Run the delivery job now, or as soon as the one running ends: never inside a crawl job, which a slow
        channel or a locked archive would hold past its source's next rounds."""
        self.due = True
        job = self.scheduler.get_job("deliver")
        if job is not None and not self.delivering.locked() and not self.stopping.is_set():
            job.modify(next_run_time=datetime.now(UTC))

    def _lease_seconds(self, source: Source, job_id: str) -> float:
        """How long a source's lease lasts: its interval, or for a cron line until its next fire time."""
        if not source.cron:
            return (source.interval or self.config.crawl.interval).total_seconds()
        job = self.scheduler.get_job(job_id)
        upcoming = job.next_run_time if job else None
        return max(1.0, (upcoming - datetime.now(UTC)).total_seconds()) if upcoming else 60.0

    async def deliver(self) -> None:
        """Match what is new and send whatever is due (alerts deferred or queued by a previous run)."""

        async def work() -> None:
            async with self.delivering:  # one dispatcher at a time, or a row could be sent twice
                self.due = False
                if self.sender is None:  # Telegram was unreachable: try again, quietly (the bot: `_lead`)
                    self.sender = await connect(self.config, quiet=True)
                    if self.sender is not None:
                        log.info("Telegram reachable again: delivering queued alerts")
                if self.stopping.is_set():
                    return
                report = await match_and_deliver(self.config, self.archive, self.sender, trouble=self.trouble,
                                                 stopping=self.stopping)
            if self.due:  # articles stored while this one ran
                self._deliver_soon()
            if report:
                metrics.ALERTS_SENT.inc(report.sent)
                metrics.ALERTS_FAILED.inc(report.failed)
            metrics.BACKLOG.set((await self.archive.read(outbox.counts))["pending"])

        await self._tracked(work)

    def _count(self, report: CrawlReport) -> None:
        metrics.CRAWLS.labels(report.source).inc()
        metrics.ITEMS.labels(report.source).inc(report.seen)
        metrics.ITEMS_NEW.labels(report.source).inc(report.new)
        metrics.LAST_CRAWL.labels(report.source).set(time.time())
        if report.error:
            metrics.CRAWL_ERRORS.labels(report.source).inc()

    def _failing(self, report: CrawlReport) -> None:
        """Say once when the last crawl of every source failed (and once when one works again)."""
        self.last_crawls[report.source] = report
        enabled = {s.name for s in self.config.sources if s.enabled}
        hint = progress.failing_hint(r for name, r in self.last_crawls.items() if name in enabled)
        if hint and not self.all_failing and enabled <= self.last_crawls.keys():
            log.error("%s", hint)
            self.all_failing = True
        elif not hint and self.all_failing:
            log.info("source %s crawled again: not every source is failing any more", report.source)
            self.all_failing = False

    async def _beat(self) -> None:
        """Say in the archive that this worker is alive (veille status); a failure is only logged."""
        try:
            await self.archive.write(workers.beat, self.worker, self.role, self.host, self.pid)
        except StorageError as exc:
            log.warning("heartbeat not recorded: %s", exc)

    async def _lead(self) -> None:
        """Lead the bot when no one else does (the others wait), and start it then; stop it if the lead is
        lost (the archive's server cut this process off)."""
        assert self.leadership is not None
        try:
            leading = await asyncio.to_thread(self.leadership.try_lead)
        except StorageError as exc:
            log.warning("bot: cannot ask for the leadership: %s", exc)
            leading = False
        if self.stopping.is_set():
            return
        if leading != self.leading:
            self.leading = leading
            if not leading:
                log.info("bot: waiting for the leader")
                await stop_bot(self.bot)
                self.bot = None
                return
            log.info("bot: leading")
        elif not leading or self.bot is not None or time.monotonic() < self.bot_retry_at:
            return
        # leading without a bot: just elected, or Telegram could not be reached when it was (tried again
        # every BOT_RETRY, whatever this process's role: a bot-only process has no delivery to retry it)
        self.bot = await start_bot(self.bot_state)
        if self.bot is None:
            self.bot_retry_at = time.monotonic() + BOT_RETRY.total_seconds()

    def _overrun(self, event: JobEvent) -> None:
        # the delivery job runs every few seconds and when articles come: one running is all it needs
        level = logging.DEBUG if event.job_id == "deliver" else logging.WARNING
        log.log(level, "%s is still running from its last round: this round is skipped", event.job_id)

    def schedule(self, previous: Config | None = None) -> None:
        """Add, remove and reschedule the source jobs to match the config; first runs spread over 5 s."""
        now = datetime.now(UTC)
        wanted = {s.name: s for s in self.config.sources if s.enabled and self.crawls}
        old = {s.name: s for s in previous.sources} if previous else {}
        for job in self.scheduler.get_jobs():
            name = job.id.removeprefix("source:")
            if job.id.startswith("source:") and name not in wanted:
                job.remove()
                log.info("source %s removed from the schedule", name)
        for name, source in wanted.items():
            job_id = f"source:{name}"
            if self.scheduler.get_job(job_id) and old.get(name) == source:
                continue
            first = now + timedelta(seconds=random.uniform(0, 5))
            self.scheduler.add_job(self.crawl, trigger_for(source, self.config, first), args=[name], id=job_id,
                                   replace_existing=True, max_instances=1, coalesce=True,
                                   misfire_grace_time=None, next_run_time=first)
            if previous is not None:
                log.info("source %s %s", name, "rescheduled" if name in old else "added")

    async def reload(self) -> bool:
        """Read config.yaml again; apply it if valid, else keep the running config and log why."""
        self._stamp = self._config_stamp()
        try:
            new = load(self.config_path)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("config not reloaded, keeping the running one: %s: %s", exc.path, problem)
            return False
        if (new.storage.path, new.storage.url) != (self.config.storage.path, self.config.storage.url):
            log.warning("storage.path or storage.url changed: it applies at the next restart")
            new.storage.path, new.storage.url = self.config.storage.path, self.config.storage.url
        if new.dedup != self.config.dedup:
            await self.archive.write(stories.configure, new.dedup.threshold, new.dedup.boilerplate_stories)
        previous, self.config = self.config, new
        self.bot_state.telegram, self.bot_state.topics = new.telegram, new.topics
        self.bot_state.timezone = new.alerts.timezone
        self.schedule(previous)
        log.info("config reloaded: %d sources, %d topics", len(new.sources), len(new.topics))
        return True

    def _config_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.config_path.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    async def _watch_config(self) -> None:
        if self._config_stamp() != self._stamp:
            await self.reload()

    def _reload_now(self) -> None:
        task = asyncio.ensure_future(self.reload())
        self.running.add(task)
        task.add_done_callback(self.running.discard)

    def _signalled(self) -> None:
        if self.stopping.is_set():
            log.warning("second signal: stopping now")
            self.hurry.set()
        self.stopping.set()

    async def _drain(self) -> None:
        """Let the running jobs finish, up to the grace period or a second signal; then cancel the others.

        A cancelled crawl records no success and saves no validators: its feed is read in full next time.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.grace
        hurry = asyncio.ensure_future(self.hurry.wait())
        while self.running and not self.hurry.is_set() and loop.time() < deadline:
            await asyncio.wait({*self.running, hurry}, timeout=deadline - loop.time(),
                               return_when=asyncio.FIRST_COMPLETED)
        hurry.cancel()
        left = set(self.running)
        if left:
            log.warning("%d crawls or sends cut short: they are done again at the next start", len(left))
            for task in left:
                task.cancel()
            await asyncio.wait(left, timeout=5)

    async def run(self, metrics_port: int | None = None) -> None:
        """Run until SIGTERM or SIGINT, then stop scheduling and let running crawls finish."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._signalled)
        loop.add_signal_handler(signal.SIGHUP, self._reload_now)
        if metrics_port:
            metrics.serve(metrics_port)
        if self.delivers:
            self.sender = await connect(self.config)
        try:
            if self.crawls:
                await start_pool()  # its forkserver and workers start in a thread, not on the loop
            self.schedule()
            now = datetime.now(UTC)
            if self.delivers:
                self.scheduler.add_job(self.deliver, "interval", id="deliver", max_instances=1, coalesce=True,
                                       seconds=DELIVERY_EVERY.total_seconds(), next_run_time=now)
            self.scheduler.add_job(self._watch_config, "interval", id="watch-config",
                                   seconds=WATCH_EVERY.total_seconds(), max_instances=1, coalesce=True)
            self.scheduler.add_job(self._beat, "interval", id="heartbeat", seconds=workers.BEAT_EVERY.total_seconds(),
                                   max_instances=1, coalesce=True, next_run_time=now)
            if self.leadership is not None:
                # the bot answers commands from this same loop, on the leader only; stopped before the archive
                self.scheduler.add_job(self._lead, "interval", id="lead", seconds=LEAD_EVERY.total_seconds(),
                                       max_instances=1, coalesce=True, next_run_time=now)
            self.scheduler.start()
            role = "" if self.role == "all" else f" as {self.role}"
            log.info("%s%s; %s", progress.banner(self.config, "running"), role, progress.rounds(self.config))
            await self.stopping.wait()
            self.scheduler.pause()  # nothing new starts; shut down only once the running jobs are done
            log.info("stopping: waiting up to %.0fs for %d running crawls and sends", self.grace, len(self.running))
            await stop_bot(self.bot)
            if self.leadership is not None:
                self.leadership.resign()
            await self._drain()
            self.scheduler.shutdown(wait=False)
            with contextlib.suppress(StorageError):
                await self.archive.write(workers.forget, self.worker)
        finally:
            await disconnect(self.sender)
            if self.leases is not None:
                await self.leases.close()
            shutdown_pool()
        self.archive.close()
        log.info("stopped")
