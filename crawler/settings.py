"""Scrapy settings of veille's one crawler, in one place: politeness per host, defaults, our middlewares.

A source's own limits (timeout, max_bytes, robots, retries) travel in its requests' meta (crawler.run);
what is set here holds for every source, and politeness for every host whatever the number of its sources.
"""

from typing import Any

from crawler.config import CrawlConfig, Source

REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
# Requests in flight at once over every host (each host gets concurrency_per_domain of them at most)
CONCURRENT_REQUESTS = 256


def crawl_settings(defaults: CrawlConfig, source: Source | None = None) -> dict[str, Any]:
    """The settings of the crawler: the crawl defaults. With a source, those of a crawler of that source alone
    (`veille sources discover`): its own timeout, size, delay and robots, and its URL for the address guard."""
    settings = _shared(defaults, source)
    if defaults.queue:
        settings.update(_across_workers(defaults.queue, settings["DOWNLOADER_MIDDLEWARES"]))
    if source is not None:
        settings["ROBOTSTXT_OBEY"] = defaults.obey_robots if source.obey_robots is None else source.obey_robots
        settings["VEILLE_SOURCE_URL"] = source.url
    return settings


def _shared(defaults: CrawlConfig, source: Source | None) -> dict[str, Any]:
    timeout = (source and source.timeout) or defaults.timeout
    delay = (source.delay if source and source.delay is not None else defaults.delay).total_seconds()
    return {
        "TWISTED_REACTOR": REACTOR,
        "USER_AGENT": defaults.user_agent,
        # robots.txt is asked per request (meta dont_obey_robotstxt, from the source's obey_robots)
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": CONCURRENT_REQUESTS,
        "CONCURRENT_REQUESTS_PER_DOMAIN": defaults.concurrency_per_domain,
        "DOWNLOADER": "crawler.downloader.HostBoundDownloader",  # that concurrency held with no delay too
        "DOWNLOAD_DELAY": delay,
        # AutoThrottle lengthens the delay for a slow host; `delay: 0s` asks for none, adaptive or not (sites
        # of one's own, a local mirror): a delay of AutoThrottle's there served one request per host at a time
        "AUTOTHROTTLE_ENABLED": delay > 0,
        "AUTOTHROTTLE_START_DELAY": delay,
        "AUTOTHROTTLE_MAX_DELAY": max(delay, 10.0),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(defaults.concurrency_per_domain),
        # the storage pipeline is synchronous, so items gain nothing from running in parallel; Scrapy's
        # default (100) starts that many tasks for every response, a fifth of the CPU of a round at 1,000 sources
        "CONCURRENT_ITEMS": 4,
        "DOWNLOAD_TIMEOUT": timeout.total_seconds(),
        "DOWNLOAD_MAXSIZE": (source and source.max_bytes) or defaults.max_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "REDIRECT_MAX_TIMES": defaults.max_redirects,
        "METAREFRESH_ENABLED": False,
        "RETRY_TIMES": defaults.retries,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
        "RETRY_MAX_WAIT": defaults.max_retry_wait.total_seconds(),
        # the archive knows what was fetched; a dupefilter would refuse a source's URL on its second round
        "DUPEFILTER_CLASS": "scrapy.dupefilters.BaseDupeFilter",
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOGSTATS_INTERVAL": 0,
        "LOG_LEVEL": "WARNING",
        "DOWNLOADER_MIDDLEWARES": {
            # a stopped source's queued requests go no further
            "crawler.budget.StoppedRunMiddleware": 50,
            # before robots.txt (100): a refused host is never contacted, not even for its robots.txt
            "crawler.middlewares.AddressGuardMiddleware": 60,
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "crawler.robots.CachedRobotsTxtMiddleware": 100,
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "crawler.middlewares.PatientRetryMiddleware": 550,
        },
        "ITEM_PIPELINES": {"crawler.pipelines.StoragePipeline": 300},
    }


def _across_workers(queue: str, middlewares: dict[str, int | None]) -> dict[str, Any]:
    """With `crawl.queue`: article pages fetched once and politeness per host over every worker (crawler.shared).
    Scrapy's own dupefilter stays off: the scheduler's would be one per worker, and refuse a feed's next round."""
    return {
        "VEILLE_QUEUE": queue,
        "DOWNLOADER_MIDDLEWARES": {
            **middlewares,
            # after the guard (60), before robots.txt (100): a page another worker has is not even asked for
            "crawler.shared.SharedDupeFilterMiddleware": 70,
            # next to the download: a slot is held for the transfer alone, given back before a retry or redirect
            "crawler.shared.HostSlotMiddleware": 900,
        },
    }
