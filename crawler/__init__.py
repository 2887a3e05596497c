"""Getting articles: spiders, extraction, and the pipeline that hands them to storage."""

from crawler.config import CrawlConfig, Source
from crawler.runner import CrawlReport, crawl_all, crawl_source

__all__ = ["CrawlConfig", "CrawlReport", "Source", "crawl_all", "crawl_source"]
