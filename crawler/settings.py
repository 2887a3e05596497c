"""Scrapy settings for veille's crawls, in one place: politeness, limits, and our middlewares."""

from typing import Any

from crawler.config import CrawlConfig, Source

REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


def crawl_settings(defaults: CrawlConfig, source: Source) -> dict[str, Any]:
    """The settings of one source's crawl: the crawl defaults, overridden by the source's own."""
    timeout = source.timeout or defaults.timeout
    delay = (source.delay if source.delay is not None else defaults.delay).total_seconds()
    return {
        "TWISTED_REACTOR": REACTOR,
        "USER_AGENT": defaults.user_agent,
        "ROBOTSTXT_OBEY": defaults.obey_robots if source.obey_robots is None else source.obey_robots,
        "CONCURRENT_REQUESTS_PER_DOMAIN": defaults.concurrency_per_domain,
        "DOWNLOAD_DELAY": delay,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": delay,
        "AUTOTHROTTLE_MAX_DELAY": max(delay, 10.0),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(defaults.concurrency_per_domain),
        # the storage pipeline is synchronous, so items gain nothing from running in parallel; Scrapy's
        # default (100) starts that many tasks for every response, a fifth of the CPU of a round at 1,000 sources
        "CONCURRENT_ITEMS": 4,
        "DOWNLOAD_TIMEOUT": timeout.total_seconds(),
        # the source's time budget for this round (see crawler.budget)
        "VEILLE_BUDGET": (source.budget or defaults.budget).total_seconds(),
        "EXTENSIONS": {"crawler.budget.Budget": 0},
        "DOWNLOAD_MAXSIZE": source.max_bytes or defaults.max_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "REDIRECT_MAX_TIMES": defaults.max_redirects,
        "METAREFRESH_ENABLED": False,
        "RETRY_TIMES": defaults.retries,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
        "RETRY_MAX_WAIT": defaults.max_retry_wait.total_seconds(),
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "VEILLE_SOURCE_URL": source.url,
        "DOWNLOADER_MIDDLEWARES": {
            # before robots.txt (100): a refused host is never contacted, not even for its robots.txt
            "crawler.middlewares.AddressGuardMiddleware": 60,
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "crawler.middlewares.PatientRetryMiddleware": 550,
        },
        "ITEM_PIPELINES": {"crawler.pipelines.StoragePipeline": 300},
        "VEILLE_TRACKING_PARAMS": defaults.tracking_params,
    }
