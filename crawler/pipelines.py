"""Item pipelines: the hand-over from the crawler to the archive."""

from datetime import UTC, datetime
from typing import Any, Self

from scrapy.crawler import Crawler

from crawler.entries import plausible_date
from crawler.items import ArticleItem
from crawler.run import Run
from storage import StorageError, articles, fields


class StoragePipeline:
    """Store each article once (storage deduplicates) and count what was new; a dry run only collects."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_item(self, item: Any) -> Any:
        assert isinstance(item, ArticleItem) and isinstance(item.run, Run)
        run = item.run
        try:
            await self._store(run, item)
        finally:
            run.release()
        return item

    async def _store(self, run: Run, item: ArticleItem) -> None:
        run.seen += 1
        # whichever said it (feed, sitemap, the page's metadata): no date from the future, none from 1970
        item.published = plausible_date(item.published, datetime.now(UTC))
        if run.dry_run or run.archive is None:
            run.collected.append(ArticleItem(**fields.cleaned(item.as_row())))  # as the archive would hold it
            return
        try:
            stored = await run.archive.write(articles.store, item.as_row())
        except StorageError as exc:  # locked past the busy timeout, disk full: this crawl's error
            run.errors.append(f"{exc}: articles not stored, fetched again next round")
            return
        if stored.new:
            run.new += 1
