"""Scrapy's downloader, holding a host's concurrency when its requests come in together.

Scrapy (2.19) hands each download to a task of its own that marks the request as transferring once the task
first runs; a slot's queue drained in one go (several sources' requests to one host, queued at once) thus saw
every transfer slot free and sent the whole queue together: with no delay between requests, a host asked for
`concurrency_per_domain: 2` got six at once. Here a download counts as transferring from the moment it is
handed over. (With a delay, Scrapy sends one request per delay, which hid it while AutoThrottle was always on.)
"""

from typing import Any

from scrapy import Request
from scrapy.core.downloader import Downloader, Slot


class HostBoundDownloader(Downloader):
    """The DOWNLOADER of veille's crawler (crawler.settings)."""

    def _wait_for_download(self, slot: Slot, request: Request, queue_dfd: Any) -> Any:
        slot.transferring.add(request)  # counted now; the download removes it when done, as before
        return super()._wait_for_download(slot, request, queue_dfd)
