"""Scrapy settings for veille's crawls, in one place."""

from typing import Any

from crawler.config import CrawlConfig, Source

REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


def crawl_settings(defaults: CrawlConfig, source: Source) -> dict[str, Any]:
    """The settings of one source's crawl: the crawl defaults, overridden by the source's own."""
    timeout = source.timeout or defaults.timeout
    return {
        "TWISTED_REACTOR": REACTOR,
        "USER_AGENT": defaults.user_agent,
        "ROBOTSTXT_OBEY": defaults.obey_robots,
        "CONCURRENT_REQUESTS_PER_DOMAIN": defaults.concurrency_per_domain,
        "DOWNLOAD_DELAY": defaults.delay.total_seconds(),
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": defaults.delay.total_seconds(),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(defaults.concurrency_per_domain),
        "DOWNLOAD_TIMEOUT": timeout.total_seconds(),
        "DOWNLOAD_MAXSIZE": source.max_bytes or defaults.max_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "REDIRECT_MAX_TIMES": 5,
        "RETRY_TIMES": 2,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "ITEM_PIPELINES": {"crawler.pipelines.StoragePipeline": 300},
        "VEILLE_TRACKING_PARAMS": defaults.tracking_params,
    }
