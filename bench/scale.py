"""Sources at scale: one round of `veille crawl` over 1,000 feed sources served on 127.0.0.1.

    .venv/bin/python -m bench.scale                       # 1,000 sources × 3 articles (a few minutes)
    .venv/bin/python -m bench.scale --sources 200         # smaller

Feeds and article pages are generated files served by Twisted's static file server in a process of its own,
on `--sites` addresses of 127.0.0.0/8 (127.0.0.2, 127.0.0.3...: a site per host, as politeness is per host).
Measured for each, as its own process:
- veille: the real `veille crawl` (robots.txt, conditional GET, feed parsing, trafilatura, dedup, storage,
  matching) with the config's defaults (two requests at once per site), except the delay between two requests
  to a site (0, as the sites are local);
- raw: a bare Scrapy spider fetching the same feeds and article pages in one crawler, storing nothing, with
  as many requests at once as veille has over all sites (2 per site).

To measure another tree's veille with the same sites, run this with PYTHONPATH set to that tree: the
`veille` command it starts imports from there.
Wall time, CPU time (of the process tree, and of veille's own process apart: CPU per article for each), peak resident
memory (the largest of the process and its children, from wait4) and what each got.
"""

import argparse
import json
import multiprocessing
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import yaml

from bench.cpu import cpu_of_tree, peak_rss_kib, thread_cpu

WORDS = [
    "État", "hébergement", "données", "sensibles", "offre", "qualifiée", "ministère", "contrat", "infrastructure",
    "réseau", "opérateur", "marché", "public", "doctrine", "sécurité", "souveraineté", "fournisseur", "région",
    "centre", "calcul", "stockage", "logiciel", "libre", "agence", "nationale", "rapport", "sénat", "député",
    "commission", "européenne", "règlement", "cyber", "attaque", "rançon", "hôpital", "collectivité", "budget",
    "investissement", "start-up", "licence", "migration", "annonce", "partenariat", "usine", "puce",
    "intelligence", "artificielle", "modèle", "formation", "talent", "recrutement", "cloud", "plateforme",
    "service", "public"
]
TOPIC_WORD = "SecNumCloud"


def article_html(source: int, number: int) -> str:
    """A small article page of its own words (seeded): header, menu, the article (four paragraphs), footer."""
    rng = random.Random(source * 1000 + number)
    subject = f" {TOPIC_WORD}" if (source + number) % 10 == 0 else ""
    body = "".join(f"<p>Paragraphe {k}.{subject} {' '.join(rng.choices(WORDS, k=60))}.</p>" for k in range(4))
    return (f"<html lang='fr'><head><title>Article {source}-{number}</title></head><body>"
            f"<nav><a href='/'>Accueil</a> <a href='/rubrique'>Rubrique</a></nav>"
            f"<article><h1>Article {source}-{number} sur l'hébergement{subject}</h1>{body}</article>"
            f"<footer>Mentions légales · Contact</footer></body></html>")


def feed_xml(base: str, source: int, articles: int, now: datetime) -> str:
    """An RSS 2.0 feed of `articles` items, each linking to its page on the same site."""
    items = "".join(
        f"<item><title>Article {source}-{j} sur l'hébergement</title><link>{base}/a/{source}/{j}.html</link>"
        f"<guid>{base}/a/{source}/{j}</guid><pubDate>{format_datetime(now - timedelta(hours=j))}</pubDate>"
        f"<description>Résumé de l'article {source}-{j}.</description></item>" for j in range(articles))
    return ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'>"
            f"<channel><title>s{source}</title>{items}</channel></rss>")


def generate(root: Path, sites: list[str], sources: int, articles: int) -> list[str]:
    """Write every feed, article page and robots.txt under `root`; return the feed URLs, spread over the sites."""
    now = datetime.now(UTC)
    (root / "feed").mkdir()
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n")
    feeds = []
    for i in range(sources):
        base = sites[i % len(sites)]
        (root / "feed" / f"{i}.xml").write_text(feed_xml(base, i, articles, now))
        (root / "a" / str(i)).mkdir(parents=True)
        for j in range(articles):
            (root / "a" / str(i) / f"{j}.html").write_text(article_html(i, j))
        feeds.append(f"{base}/feed/{i}.xml")
    return feeds


def serve(root: str, sites: int, answer: Connection) -> None:
    """Serve `root` on a free port of `sites` hosts 127.0.0.2... with Twisted's static file server; send their
    base URLs."""
    from twisted.internet import reactor as twisted_reactor
    from twisted.web.server import Site
    from twisted.web.static import File

    reactor: Any = twisted_reactor
    site = Site(File(root))
    hosts = [f"127.0.{(k + 2) // 256}.{(k + 2) % 256}" for k in range(sites)]
    ports = [reactor.listenTCP(0, site, interface=host, backlog=1024) for host in hosts]
    answer.send([f"http://{host}:{p.getHost().port}" for host, p in zip(hosts, ports, strict=True)])
    reactor.run()


def measure(command: list[str], env: dict[str, str] | None = None
            ) -> tuple[float, float, float, float, int, int, str]:
    """Run a command; its wall time, CPU time of it and every descendant, of the process alone and of its main
    thread (s), peak RSS of it and its children and of the process alone (KiB), and its output.

    CPU is sampled from /proc every 100 ms (the last 100 ms of a process may be missed): wait4 alone would not
    count the extraction workers, which are the forkserver's children, never waited for by the command.
    """
    started = time.monotonic()
    seen: dict[int, float] = {}
    own_peak, main_thread = 0, 0.0
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.DEVNULL)
        done = threading.Event()

        def sample() -> None:
            nonlocal own_peak, main_thread
            while not done.wait(0.1):
                cpu_of_tree(proc.pid, seen)
                own_peak = max(own_peak, peak_rss_kib(proc.pid))
                main_thread = max(main_thread, thread_cpu(proc.pid, proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.monotonic() - started
        out.seek(0)
        output = out.read()
    if proc.returncode:
        raise SystemExit(f"{command[:3]} failed with exit {proc.returncode}")
    own = max(seen.pop(proc.pid, 0.0), usage.ru_utime + usage.ru_stime - sum(seen.values()))
    return elapsed, own + sum(seen.values()), own, main_thread, usage.ru_maxrss, own_peak, output


def raw_crawl(feeds_file: str, concurrency: int) -> None:
    """The baseline: one bare Scrapy crawler fetching every feed and the pages it links to; prints counts."""
    import scrapy
    from scrapy.crawler import CrawlerProcess

    class Raw(scrapy.Spider):
        name = "raw"

        def parse(self, response: Any) -> Any:
            for link in response.xpath("//item/link/text()").getall():
                yield response.follow(link, self.article)

        def article(self, response: Any) -> Any:
            yield {"url": response.url, "bytes": len(response.body)}

    process = CrawlerProcess({"LOG_LEVEL": "ERROR", "CONCURRENT_REQUESTS": concurrency,
                              "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
                              "ROBOTSTXT_OBEY": False, "TELNETCONSOLE_ENABLED": False, "COOKIES_ENABLED": False,
                              "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor"})
    crawler = process.create_crawler(Raw)
    process.crawl(crawler, start_urls=Path(feeds_file).read_text().split())
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    print(json.dumps({"requests": stats.get("downloader/request_count", 0),
                      "items": stats.get("item_scraped_count", 0)}))


def veille_config(tmp: Path, feeds: list[str]) -> Path:
    config = tmp / "config.yaml"
    config.write_text(yaml.safe_dump({
        "storage": {"path": str(tmp / "scale.db")},
        "crawl": {"delay": "0s", "timeout": "30s"},
        "alerts": {"max_per_hour": 1000},
        "sources": [{"name": f"s{i}", "feed": url} for i, url in enumerate(feeds)],
        "topics": [{"name": "qualifiés", "keywords": [TOPIC_WORD], "chats": [1]}],
    }, allow_unicode=True))
    return config


def stored(db: Path) -> tuple[int, int, int]:
    """Articles stored, of which with their page's full text, and sources recorded without error."""
    with sqlite3.connect(db) as conn:
        total, full = conn.execute("SELECT count(*), coalesce(sum(full_text), 0) FROM articles").fetchone()
        healthy = conn.execute("SELECT count(*) FROM sources WHERE last_error IS NULL").fetchone()[0]
    return total, full, healthy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--articles", type=int, default=3, help="articles per feed")
    parser.add_argument("--sites", type=int, default=32, help="local hosts the sources are spread over")
    parser.add_argument("--raw", help=argparse.SUPPRESS)  # internal: run the baseline on this list of feeds
    args = parser.parse_args()
    concurrency = 2 * args.sites  # veille's default concurrency_per_domain, over every site
    if args.raw:
        raw_crawl(args.raw, concurrency)
        return

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        root = tmp / "www"
        root.mkdir()
        ours, theirs = multiprocessing.Pipe()
        server = multiprocessing.Process(target=serve, args=(str(root), args.sites, theirs), daemon=True)
        server.start()
        sites = ours.recv()
        feeds = generate(root, sites, args.sources, args.articles)
        (tmp / "feeds.txt").write_text("\n".join(feeds))
        config = veille_config(tmp, feeds)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
        veille = str(Path(sys.executable).parent / "veille")
        pages = args.sources * args.articles

        raw_s, raw_cpu, _, _, raw_kib, _, raw_out = measure(
            [sys.executable, "-m", "bench.scale", "--raw", str(tmp / "feeds.txt"), "--sites", str(args.sites)])
        raw = json.loads(raw_out.strip().splitlines()[-1])
        ours_s, ours_cpu, ours_main, ours_thread, ours_kib, ours_own_kib, _ = measure(
            [veille, "crawl", "--config", str(config)], env)
        total, full, healthy = stored(tmp / "scale.db")
        server.terminate()

    print(f"scale: one round over {args.sources:,} feed sources × {args.articles} articles "
          f"({pages:,} article pages) on {args.sites} local sites, {os.cpu_count()} cores "
          f"(load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after)\n")
    print("| crawler | wall time | CPU time | pages/s | peak RSS | got |")
    print("|---|---|---|---|---|---|")
    print(f"| raw Scrapy (1 crawler, {concurrency} concurrent) | {raw_s:.1f} s | {raw_cpu:.1f} s | {pages / raw_s:.0f} "
          f"| {raw_kib / 1024:.0f} MiB | {raw['items']:,} pages, {raw['requests']:,} requests |")
    print(f"| veille crawl | {ours_s:.1f} s | {ours_cpu:.1f} s | {pages / ours_s:.0f} | {ours_kib / 1024:.0f} MiB "
          f"| {total:,} articles stored ({full:,} full text), {healthy:,}/{args.sources:,} sources ok |")
    print(f"\nratio veille / raw: wall time ×{ours_s / raw_s:.1f}, CPU time ×{ours_cpu / raw_cpu:.1f}, "
          f"peak RSS ×{ours_kib / raw_kib:.1f}")
    print(f"peak RSS of veille's own process: {ours_own_kib / 1024:.0f} MiB (×{ours_own_kib / raw_kib:.1f}); the "
          "rest is an extraction worker's or their forkserver's (trafilatura and the language model)")
    print(f"veille under test: {os.environ.get('PYTHONPATH') or 'the installed tree'}")
    print(f"per source: {ours_s / args.sources * 1000:.0f} ms wall, {ours_cpu / args.sources * 1000:.0f} ms CPU, "
          f"{(ours_kib - raw_kib) / args.sources:.0f} KiB RSS beyond the raw crawler's")
    print(f"CPU per article: veille {ours_cpu / pages * 1000:.1f} ms ({ours_main / pages * 1000:.1f} ms in its own "
          f"process, {(ours_cpu - ours_main) / pages * 1000:.1f} ms in its extraction workers), raw Scrapy "
          f"{raw_cpu / pages * 1000:.1f} ms")
    print(f"veille's own process per article: its main thread (Scrapy, middlewares, spider callbacks) "
          f"{ours_thread / pages * 1000:.1f} ms, its other threads (the archive's writer and readers, the pool's) "
          f"{(ours_main - ours_thread) / pages * 1000:.1f} ms")


if __name__ == "__main__":
    main()
