"""A source's time budget for one round, and how a source's crawl is stopped early.

Once a source's budget is spent (or its crawl is cancelled), the requests of that source still waiting in
the downloader are dropped, and those still in the scheduler are refused when they come up: their
errbacks see Stopped, those articles are not stored, so the next round fetches them. Only the transfers
under way finish, within their timeout. Other sources, on the same host or not, go on untouched.
"""

from scrapy.core.downloader import Downloader
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request
from twisted.python.failure import Failure

from crawler.run import Run

REASON = "budget_spent"


class Stopped(IgnoreRequest):
    """The source's crawl was stopped (its time budget spent, or cancelled) before this request was sent."""


def drop_queued(downloader: Downloader, run: Run) -> None:
    """Fail the requests of `run` that wait in the downloader for their turn on a host."""
    for slot in list(downloader.slots.values()):
        mine = [(request, waiting) for request, waiting in slot.queue if request.meta.get("run") is run]
        for queued in mine:
            slot.queue.remove(queued)
            request, waiting = queued
            waiting.errback(Failure(Stopped(f"{run.stopped} before {request.url} was fetched")))


class StoppedRunMiddleware:
    """Refuse, before any download, a request whose source's crawl was stopped."""

    def process_request(self, request: Request) -> None:
        run = request.meta.get("run")
        if isinstance(run, Run) and run.stopped:
            raise Stopped(f"{run.stopped} before {request.url} was fetched")
