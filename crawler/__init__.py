"""Getting articles: spiders, extraction, and the pipeline that hands them to storage."""

from typing import TYPE_CHECKING, Any

from crawler.config import CrawlConfig, Source

if TYPE_CHECKING:
    from crawler.runner import CrawlReport, crawl_all, crawl_source

__all__ = ["CrawlConfig", "CrawlReport", "Source", "crawl_all", "crawl_source"]


def __getattr__(name: str) -> Any:
    # the runner pulls in Scrapy and Twisted: imported on first use, so that reading a config does not
    if name in ("CrawlReport", "crawl_all", "crawl_source"):
        from crawler import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'crawler' has no attribute {name!r}")
