"""What a crawl says while it runs: a banner first, progress as sources finish, a summary at the end.

On a terminal the progress is a rich bar under the log lines; elsewhere (a pipe, a log file, systemd) the
per-source log lines are the progress, and the banner and summary are log lines too. Both `veille crawl` and
`veille run` warn when every source fails, which is the network far more often than every site at once.
"""

import logging
import sys
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from crawler import CrawlReport
from storage.units import format_duration

if TYPE_CHECKING:
    from veille.config import Config

log = logging.getLogger("veille")
ALL_FAILING = "every source failed: is the network up? (`veille status` lists each source's error)"


def destination(config: "Config") -> str:
    """Where alerts go, in a few words."""
    from alerts.config import masked

    urls = sorted({masked(c) for t in config.topics for c in t.chats if isinstance(c, str)})
    others = f" and {', '.join(urls[:3])}" + (f" and {len(urls) - 3} more" if len(urls) > 3 else "") if urls else ""
    if not config.telegram.resolved_token():
        return "the console (no TELEGRAM_BOT_TOKEN set)" + others
    chats = sorted({str(c) for t in config.topics for c in t.chats if isinstance(c, int)})
    listed = ", ".join(chats[:5]) + (f" and {len(chats) - 5} more" if len(chats) > 5 else "")
    return (f"Telegram, chats {listed}" if chats else "Telegram (no topic names a chat yet)") + others


def banner(config: "Config", what: str) -> str:
    """The first line: what runs, on how much, into which archive, with alerts going where."""
    enabled = sum(s.enabled for s in config.sources)
    return (f"veille {what}: {counted(enabled, 'source')}, {counted(len(config.topics), 'topic')}; "
            f"archive {config.storage.shown}; "
            f"alerts to {destination(config)}")


def rounds(config: "Config") -> str:
    """When `veille run` crawls: a first round now, then each source on its interval or cron line."""
    enabled = [s for s in config.sources if s.enabled]
    every = sorted({s.interval or config.crawl.interval for s in enabled if not s.cron})
    crons = sum(bool(s.cron) for s in enabled)
    then = [f"every {' to '.join(format_duration(e) for e in dict.fromkeys((every[0], every[-1])))}"] if every else []
    then += [f"{crons} on their cron line"] if crons else []
    return "first round within 5s, then " + " and ".join(then) if then else "no source to crawl"


def failing_hint(reports: Iterable[CrawlReport]) -> str | None:
    """The hint when every source that was crawled failed (sources backing off are not counted)."""
    crawled = [r for r in reports if not r.skipped_until]
    return ALL_FAILING if crawled and all(r.error for r in crawled) else None


def counted(n: int, word: str) -> str:
    """`1 source`, `2 sources`."""
    return f"{n} {word}{'' if n == 1 else 's'}"


class CrawlProgress(AbstractContextManager["CrawlProgress"]):
    """Counts the sources of one `veille crawl` as they finish; draws a bar when stderr is a terminal."""

    def __init__(self, total: int, *, terminal: bool | None = None) -> None:
        self.total = total
        self.reports: list[CrawlReport] = []
        self.alerts_sent = 0
        self.started = time.monotonic()
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self._bar: Any = None
        self._task: Any = None
        self._handlers: list[tuple[logging.StreamHandler[Any], Any]] = []

    def __enter__(self) -> "CrawlProgress":
        if self.terminal and self.total:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("crawling"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[said]}"), TimeElapsedColumn(),
                                 console=Console(stderr=True), transient=True)
            self._bar.start()
            self._task = self._bar.add_task("crawl", total=self.total, said="")
            # log lines go through the bar's console (rich swapped sys.stderr), so they print above it
            for handler in logging.getLogger().handlers:
                if isinstance(handler, logging.StreamHandler) and (old := handler.setStream(sys.stderr)):
                    self._handlers.append((handler, old))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            for handler, stream in self._handlers:
                handler.setStream(stream)
            self._bar.stop()

    def finished(self, report: CrawlReport) -> None:
        self.reports.append(report)
        if self._bar is not None:
            failing = sum(bool(r.error) for r in self.reports)
            said = f"{sum(r.new for r in self.reports)} new" + (f", {failing} failing" if failing else "")
            self._bar.update(self._task, completed=len(self.reports), said=said)

    def summary(self) -> str:
        """The last line: sources ok and failing, new articles, alerts sent, time taken."""
        failing = sorted(r.source for r in self.reports if r.error)
        waiting = sum(bool(r.skipped_until) for r in self.reports)
        ok = len(self.reports) - len(failing) - waiting
        parts = [f"{counted(ok, 'source')} ok"]
        if failing:
            named = ", ".join(failing[:5]) + (f" and {len(failing) - 5} more" if len(failing) > 5 else "")
            parts.append(f"{len(failing)} failing ({named})")
        if waiting:
            parts.append(f"{waiting} backing off")
        parts += [counted(sum(r.new for r in self.reports), "new article"),
                  counted(self.alerts_sent, "alert") + " sent"]
        return f"crawl done in {time.monotonic() - self.started:.1f}s: " + ", ".join(parts)
