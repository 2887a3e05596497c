"""CPU milliseconds per article for each stage of the crawl, on the pages of bench.crawl's local site.

    .venv/bin/python -m bench.stages                   # 10 feeds x 40 articles of the same site, a minute or two
    .venv/bin/python -m bench.stages --feeds 50

Each stage runs veille's own functions, one after the other in this process, timed with process CPU time:
feed parse (`crawler.feeds.parse_feed`), extraction (`crawler.extract.extract`, as the crawl calls it when
the feed gives a date, and with the whole-page date search it ran on every page before), dedup
(`storage.stories.assign`: the MinHash signature and its band lookups), store (`storage.articles.store`
without the dedup part) and match (`alerts.matcher.match_pending` with bench.crawl's topics). The raw
baseline, measured in the same run, is lxml parsing the same page (`lxml.html.fromstring`), the least any
extraction does.
"""

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import lxml.html

from alerts.matcher import match_pending
from bench.crawl import TOPICS
from bench.site import NewsSite, article_path, feed_path
from crawler.canonical import canonical_url
from crawler.extract import extract
from crawler.feeds import parse_feed
from storage import Archive, articles, open_archive, stories
from veille.config import Config

T = TypeVar("T")


class Clock:
    """CPU seconds spent in each stage."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def time(self, stage: str, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        started = time.process_time()
        try:
            return work(*args, **kwargs)
        finally:
            self.spent[stage] = self.spent.get(stage, 0.0) + time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=10)
    parser.add_argument("--articles", type=int, default=40, help="articles per feed")
    args = parser.parse_args()
    site = NewsSite.generate(args.feeds, args.articles)
    site.base = "http://127.0.0.1:8000"
    clock = Clock()
    config = Config.model_validate({"topics": TOPICS})
    extract(site.articles[0].page.decode(), "http://127.0.0.1:8000/warm-up")  # first-call loading, not timed
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as tmp:
        db = open_archive(Path(tmp) / "veille.db")
        stories.configure(db, config.dedup.threshold)
        real_assign = stories.assign

        def timed_assign(*a: Any, **kw: Any) -> int:
            return clock.time("dedup", real_assign, *a, **kw)

        stories.assign = timed_assign
        try:
            for s in range(args.feeds):
                body = site.feed_bytes(s)
                entries = clock.time("feed parse", parse_feed, body, "application/rss+xml", site.base + feed_path(s))
                for entry, page in zip(entries, (a for a in site.articles if a.source == s), strict=True):
                    url = site.base + article_path(s, page.number)
                    html = page.page.decode()
                    clock.time("lxml parse (raw baseline)", lxml.html.fromstring, html)
                    clock.time("extraction with whole-page date search (before)", extract, html, url)
                    found = clock.time("extraction", extract, html, url, find_date=False)
                    assert found is not None
                    row = {"source": f"source{s}", "url": url, "canonical_url": canonical_url(url),
                           "guid": entry.guid, "title": entry.title, "text": found.text, "author": found.author,
                           "published": entry.published, "language": "fr", "full_text": True}
                    clock.time("store", articles.store, db, row)
            db.conn.commit()
            with Archive.open(Path(tmp) / "veille.db") as archive:  # matching runs in a thread: CPU time counts it
                clock.time("match", lambda: asyncio.run(match_pending(archive, config.topics, timedelta(days=30))))
        finally:
            stories.assign = real_assign
        db.close()
    clock.spent["store"] -= clock.spent.get("dedup", 0.0)  # store() includes the dedup it calls
    count = len(site.articles)
    print(f"## Per-article CPU by stage ({count:,} articles of bench.crawl's site, one process)\n")
    print("| stage | CPU ms per article |")
    print("|---|---|")
    raw = clock.spent.pop("lxml parse (raw baseline)")
    before = clock.spent.pop("extraction with whole-page date search (before)")
    for stage, seconds in sorted(clock.spent.items(), key=lambda kv: -kv[1]):
        print(f"| {stage} | {1000 * seconds / count:.2f} |")
    total = sum(clock.spent.values())
    print(f"| **all stages** | **{1000 * total / count:.2f}** |")
    print(f"\nRaw baseline: lxml parsing the page alone, {1000 * raw / count:.2f} ms; extraction is "
          f"{clock.spent['extraction'] / raw:.1f}× that. Extraction as it ran before this change (whole-page "
          f"date search on every page): {1000 * before / count:.2f} ms per article.")


if __name__ == "__main__":
    main()
