"""Crawl throughput: `veille crawl` on a fresh archive against a bare Scrapy spider fetching the same URLs.

    .venv/bin/python -m bench.crawl                       # 50 feeds x 40 articles (2,050 URLs), a few minutes
    .venv/bin/python -m bench.crawl --feeds 10 --articles 20

The local site (bench/site.py) is served on loopback, a host per feed (127.0.0.2...). In the same run:

1. the bare spider: one plain Scrapy crawler per feed (all in one process and one reactor), with the same
   politeness settings as veille's `crawl:` defaults (`crawler.settings`: 2 requests at a time per domain,
   0.5 s delay, AutoThrottle, robots.txt), fetching each feed and then its article pages, and doing nothing
   with them;
2. `veille crawl` (the real command) with a config of the same feeds and four topics, on a fresh archive:
   fetch, extract, dedup, store, match and queue alerts (console delivery);
3. `veille crawl` again with nothing changed: feeds answer 304, nothing else should be fetched.

Figures: wall time and pages per second (from process start to exit, both sides), CPU seconds of the
process and its children (the extraction workers included), requests and bytes the server sent.
"""

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.cpu import cpu_of_tree
from bench.site import Counters, NewsSite, serve

VEILLE = str(Path(sys.executable).parent / "veille")
TOPICS = [{"name": "cloud", "keywords": ["cloud souverain"], "chats": [-1001]},
          {"name": "cyber", "keywords": ["cybersécurité"], "chats": [-1001]},
          {"name": "datacenter", "keywords": ["data center", "centre de données"], "chats": [-1002]},
          {"name": "ia", "keywords": ["intelligence artificielle"], "chats": [-1002]}]


@dataclass
class Run:
    """One crawl process, measured."""

    seconds: float
    cpu: float
    requests: int
    bytes_sent: int
    not_modified: int
    output: str
    main_cpu: float = 0.0


def _own_cpu(pid: int, seen: dict[int, float]) -> float:
    """The CPU seconds so far of the process itself (not its children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return seen.get(pid, 0.0)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(command: list[str], counters: Counters) -> Run:
    """Run a command to its end: wall time, CPU of its process tree (sampled), and what the server sent."""
    counters.reset()
    seen: dict[int, float] = {}
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(Path.cwd())})
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            cpu_of_tree(process.pid, seen)
        seen[process.pid] = max(seen.get(process.pid, 0.0), _own_cpu(process.pid, seen))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate()
    seconds = time.monotonic() - started
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{output[-3000:]}")
    return Run(seconds, sum(seen.values()), counters.requests, counters.bytes_sent, counters.not_modified, output,
               seen.get(process.pid, 0.0))


def write_config(folder: Path, site: NewsSite) -> Path:
    """veille's config: the site's feeds with the crawl defaults (but a longer recent:), and the topics."""
    sources = [{"name": f"source{s}", "feed": feed} for s, (feed, _) in enumerate(site.urls())]
    config = {"storage": {"path": str(folder / "veille.db")}, "sources": sources, "topics": TOPICS}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


# the bare spider ---------------------------------------------------------------------------------------


def bare_spider(spec: Path) -> None:
    """Fetch every feed and then its article pages with plain Scrapy spiders, veille's settings, no work."""
    import scrapy
    from scrapy.crawler import AsyncCrawlerRunner, Crawler

    from crawler.config import CrawlConfig, Source
    from crawler.settings import crawl_settings
    from veille import loop

    class Fetch(scrapy.Spider):
        name = "bare"

        def __init__(self, feed: str, pages: list[str], **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.feed, self.pages = feed, pages

        async def start(self) -> AsyncIterator[scrapy.Request]:
            yield scrapy.Request(self.feed, callback=self.parse_feed, dont_filter=True)

        def parse_feed(self, response: scrapy.http.Response) -> Iterator[scrapy.Request]:
            for url in self.pages:
                yield scrapy.Request(url, callback=self.parse_page, dont_filter=True)

        def parse_page(self, response: scrapy.http.Response) -> None:
            return None

    feeds: list[tuple[str, list[str]]] = json.loads(spec.read_text())

    async def main() -> None:
        crawls = []
        for n, (feed, pages) in enumerate(feeds):
            settings = crawl_settings(CrawlConfig(), Source.model_validate({"name": f"s{n}", "feed": feed}))
            settings = {k: v for k, v in settings.items()
                        if k not in ("ITEM_PIPELINES", "DOWNLOADER_MIDDLEWARES") and not k.startswith("VEILLE_")}
            crawler = Crawler(Fetch, settings)
            crawls.append(AsyncCrawlerRunner(crawler.settings).crawl(crawler, feed=feed, pages=pages))
        import asyncio

        await asyncio.gather(*crawls)

    loop.run(main)


# the report --------------------------------------------------------------------------------------------


def archive_counts(db: Path) -> tuple[int, int, int]:
    """Articles stored, of which with the page's main text, and alerts queued."""
    with sqlite3.connect(db) as conn:
        total, full = conn.execute("SELECT count(*), coalesce(sum(full_text), 0) FROM articles").fetchone()
        alerts = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
    return int(total), int(full), int(alerts)


def mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--articles", type=int, default=40, help="articles per feed")
    parser.add_argument("--bare-spider", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_spider:
        bare_spider(args.bare_spider)
        return
    started = time.monotonic()
    site = NewsSite.generate(args.feeds, args.articles)
    pages = sum(len(a.page) for a in site.articles)
    urls = args.feeds * (args.articles + 1)
    print(f"## Crawl: {args.feeds} feeds × {args.articles} articles ({urls:,} URLs, pages of "
          f"{min(len(a.page) for a in site.articles) // 1000}–{max(len(a.page) for a in site.articles) // 1000} KB, "
          f"{mb(pages)} in all; generated in {time.monotonic() - started:.0f} s)\n")
    with tempfile.TemporaryDirectory(prefix="bench-crawl-") as tmp, serve(site) as counters:
        folder = Path(tmp)
        spec = folder / "urls.json"
        spec.write_text(json.dumps(site.urls()))
        bare = measured([sys.executable, "-m", "bench.crawl", "--bare-spider", str(spec)], counters)
        config = write_config(folder, site)
        first = measured([VEILLE, "crawl", "--config", str(config)], counters)
        stored, full, alerts = archive_counts(folder / "veille.db")
        second = measured([VEILLE, "crawl", "--config", str(config)], counters)
        stored_after, _, _ = archive_counts(folder / "veille.db")
    print("The bare spider: a plain Scrapy crawler per feed in one process; veille: its one crawler for every "
          "source. Both with veille's `crawl:` defaults (2 requests at a time per domain, 0.5 s delay with "
          "AutoThrottle, robots.txt obeyed); wall time from process start to exit; CPU = user + system seconds "
          "of the process and its children (extraction workers).\n")
    print("| run | wall | pages/s | CPU | requests | received |")
    print("|---|---|---|---|---|---|")
    for label, run in (("bare Scrapy spider", bare), ("`veille crawl`, fresh archive", first),
                       ("`veille crawl`, nothing changed", second)):
        rate = f"{urls / run.seconds:,.1f}" if run is not second else "–"
        print(f"| {label} | {run.seconds:.1f} s | {rate} | {run.cpu:.1f} s | {run.requests:,} | "
              f"{mb(run.bytes_sent)} |")
    slowest = max((float(m) for m in re.findall(r"new \((\d+\.\d)s\)", first.output)), default=0.0)
    ratio = first.seconds / bare.seconds
    verdict = "met" if ratio <= 1.5 else "missed"
    print(f"\n**veille / bare spider: {ratio:.2f}× the wall time** (target 1.5×: {verdict}); "
          f"CPU {first.cpu / max(bare.cpu, 0.01):.1f}× the bare spider's "
          f"({1000 * (first.cpu - bare.cpu) / max(stored, 1):.0f} ms more per article). The slowest source's "
          f"crawl took {slowest:.1f} s of veille's {first.seconds:.1f} s; the rest is start-up, matching and "
          f"alert delivery. Of veille's CPU, {first.main_cpu:.1f} s in its own process (Scrapy, dedup, "
          f"store, match), {first.cpu - first.main_cpu:.1f} s in the extraction workers.")
    print(f"Archive after the first round: {stored:,} articles of {args.feeds * args.articles:,} expected "
          f"({full:,} with the page's main text), {alerts:,} alerts queued; after the second: {stored_after:,}.")
    print(f"Second round: {second.requests} requests ({second.not_modified} answered 304), "
          f"{second.bytes_sent:,} bytes received, {second.seconds:.1f} s.")
    if stored != args.feeds * args.articles or full != stored:
        raise SystemExit("not every article landed in the archive with its main text")


if __name__ == "__main__":
    main()
