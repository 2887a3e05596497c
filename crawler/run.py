"""One source's crawl in the shared engine: its limits, what it found, and when its requests have drained.

A Run travels in the meta of every request made for its source (`request.meta["run"]`), so the one
long-lived crawler needs no per-source spider, settings or stats. It counts what is still outstanding:
every request it made until its callback or errback has finished, every item until the pipeline is done
with it; at zero the source's crawl is over (`drained`).
"""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from scrapy.http import Request

from crawler.canonical import tracking_params
from crawler.config import CrawlConfig, Source
from crawler.items import ArticleItem
from storage import Archive


@dataclass(eq=False)
class Run:
    """One crawl of one source: its config, what it found, and why it stopped early, if it did."""

    source: Source
    defaults: CrawlConfig = field(default_factory=CrawlConfig)
    archive: Archive | None = None
    dry_run: bool = False
    errors: list[str] = field(default_factory=list)
    collected: list[ArticleItem] = field(default_factory=list)  # the items of a dry run
    validators: tuple[str | None, str | None] | None = None
    seen: int = 0
    new: int = 0
    followed: int = 0  # article pages requested (at most max_articles)
    sitemaps: int = 0  # child sitemaps requested (at most max_sitemaps)
    stopped: str | None = None  # why it ended before its requests drained: budget_spent, cancelled, shutdown
    drained: asyncio.Event = field(default_factory=asyncio.Event)
    _pending: int = 0

    def __post_init__(self) -> None:
        self.dry_run = self.dry_run or self.archive is None
        self.tracking = tracking_params(self.defaults.tracking_params)
        self.max_articles = self.source.max_articles or self.defaults.max_articles
        self.max_sitemaps = self.source.max_sitemaps or self.defaults.max_sitemaps
        self.max_bytes = self.source.max_bytes or self.defaults.max_bytes
        self.budget = (self.source.budget or self.defaults.budget).total_seconds()
        self.timeout = (self.source.timeout or self.defaults.timeout).total_seconds()

    def meta(self) -> dict[str, Any]:
        """The source's limits, in the request meta keys Scrapy's own middlewares read."""
        obey = self.defaults.obey_robots if self.source.obey_robots is None else self.source.obey_robots
        meta: dict[str, Any] = {"run": self, "download_timeout": self.timeout, "download_maxsize": self.max_bytes,
                                "download_warnsize": 0, "max_retry_times": self.defaults.retries,
                                "dont_obey_robotstxt": not obey}
        if self.source.delay is not None:  # the host's delay is set from it (crawler.engine): AutoThrottle keeps off
            meta["autothrottle_dont_adjust_delay"] = True
        return meta

    def request(self, url: str, callback: Callable[..., Any], errback: Callable[..., Any],
                meta: dict[str, Any] | None = None, **kwargs: Any) -> Request:
        """A request of this source, counted until its callback or errback has run (ValueError for a bad URL)."""
        request = Request(url, callback=self._tracked(callback), errback=self._tracked(errback),
                          meta={**self.meta(), **(meta or {})}, **kwargs)
        self._pending += 1
        return request

    def _tracked(self, func: Callable[..., Any]) -> Callable[..., AsyncIterator[Any]]:
        """func, its output counted (items until stored), and its request released once it has run."""

        async def tracked(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            try:
                output = func(*args, **kwargs)
                if isinstance(output, AsyncIterator):
                    async for thing in output:
                        yield self._owned(thing)
                elif isinstance(output, Iterable):
                    for thing in output:
                        yield self._owned(thing)
            finally:
                self.release()

        return tracked

    def _owned(self, thing: Any) -> Any:
        if isinstance(thing, ArticleItem):
            thing.run = self
            self._pending += 1  # released by the pipeline
        return thing

    def release(self) -> None:
        """One request or item of this source is done with."""
        self._pending -= 1
        if self._pending <= 0:
            self.drained.set()

    def stop(self, reason: str) -> None:
        """End the crawl early: what is still queued is dropped (see crawler.budget)."""
        if self.stopped is None:
            self.stopped = reason

    def finish(self) -> None:
        """Give up waiting for what is still under way."""
        self.drained.set()
