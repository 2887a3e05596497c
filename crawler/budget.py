"""A source's time budget for one round, as a Scrapy extension.

Scrapy's own CLOSESPIDER_TIMEOUT closes the spider, but a close waits for every request the downloader
holds, queued ones included: a source listing twenty slow pages would still fetch them all, two at a time,
while "closing". Here, once the budget is spent, the requests still waiting in the downloader are dropped
(their errbacks see BudgetSpent: those articles are not stored, so the next round fetches them), the
spider is closed with finish_reason `budget_spent`, and only the transfers under way finish, within their
timeout.
"""

import asyncio
from typing import Any, Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.asyncio import call_later
from twisted.python.failure import Failure

REASON = "budget_spent"


class BudgetSpent(IgnoreRequest):
    """The source's time budget for this round was spent before this request was sent."""


class Budget:
    """Close the crawl `VEILLE_BUDGET` seconds after it opened, dropping what is still queued."""

    def __init__(self, crawler: Crawler) -> None:
        self.seconds = crawler.settings.getfloat("VEILLE_BUDGET")
        if self.seconds <= 0:
            raise NotConfigured("no VEILLE_BUDGET")
        self.crawler = crawler
        self._timer: Any = None
        self._closing: asyncio.Future[None] | None = None
        crawler.signals.connect(self._opened, signal=signals.spider_opened)
        crawler.signals.connect(self._closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def _opened(self) -> None:
        self._timer = call_later(self.seconds, self._spend)

    def _closed(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _spend(self) -> None:
        engine = self.crawler.engine
        assert engine is not None
        for slot in list(engine.downloader.slots.values()):
            while slot.queue:
                request, waiting = slot.queue.popleft()
                waiting.errback(Failure(BudgetSpent(f"time budget spent before {request.url} was fetched")))
        self._closing = asyncio.ensure_future(engine.close_spider_async(reason=REASON))
