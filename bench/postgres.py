"""The archive on PostgreSQL next to SQLite, in the same run: search latency and store throughput.

    .venv/bin/python -m bench.postgres                     # 100k articles (a few minutes)
    .venv/bin/python -m bench.postgres --articles 1000000 --keep /tmp/veille-1m.db

bench.search's generated archive (Zipf vocabulary, 200 sources, 10% copies) is built in SQLite, then moved to a
PostgreSQL server of the bench's own (started in a temporary folder on a Unix socket, as the tests do:
fsync off, so store figures are an upper bound) with `veille archive copy`. Each of bench.search's queries runs
through the storage port (`Archive.read_now(search, ...)`) on both, in both sort orders: median and p95.
Then 1,000 new articles are stored through the port on each (`articles.store`, with near-duplicate story
grouping and learnt boilerplate on both), numbered after the archive's own so that a kept archive (`--keep`)
stores new ones on each run.
"""

import argparse
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

from bench.search import concrete_queries, generate, p95, timed
from storage import Archive, articles, open_archive
from storage.postgres.copy import copy_archive
from storage.search import search
from tests.pg_server import running


def new_articles(n: int, offset: int) -> list[dict[str, str]]:
    """n articles unlike the archive's (their own words), to store."""
    rows = []
    for i in range(offset, offset + n):
        text = "\n".join(f"Paragraphe {p} de l'article {i} : la stratégie numérique {i * 7 + p} avance."
                          for p in range(6))
        url = f"https://bench.example/new/{i}"
        rows.append({"source": f"new{i % 20}", "url": url, "canonical_url": url, "title": f"Article neuf {i}",
                     "text": text, "published": "2026-11-30T08:00:00+00:00"})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per query")
    parser.add_argument("--store", type=int, default=1000, help="articles stored on each backend")
    parser.add_argument("--keep", type=Path, help="generate the SQLite archive here once and reuse it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running() as server:
        path = args.keep or Path(tmp) / "bench.db"
        if not path.exists():
            generate(path, args.articles)
        url = server.url(server.create())
        started = time.perf_counter()
        copied = copy_archive(path, url)
        print(f"{copied['articles']:,} articles copied to PostgreSQL in {time.perf_counter() - started:.0f} s\n")
        lite, pg = Archive.open(path), Archive.open(path, url=url)
        queries = concrete_queries(open_archive(path))
        print("| query | sort | SQLite median | p95 | PostgreSQL median | p95 |")
        print("|---|---|---|---|---|---|")
        totals: dict[str, dict[str, list[float]]] = {"SQLite": {"relevance": [], "date": []},
                                                     "PostgreSQL": {"relevance": [], "date": []}}
        for query, filters in queries:
            for sort in ("relevance", "date"):
                times = {name: timed(partial(archive.read_now, search, query, sort=sort, **filters), args.repeat)
                         for name, archive in (("SQLite", lite), ("PostgreSQL", pg))}
                for name, values in times.items():
                    totals[name][sort] += values
                label = query + "".join(f" --{k} {v[:10]}" for k, v in filters.items())
                print(f"| `{label}` | {sort} | {statistics.median(times['SQLite']):.1f} ms | "
                      f"{p95(times['SQLite']):.1f} ms | {statistics.median(times['PostgreSQL']):.1f} ms | "
                      f"{p95(times['PostgreSQL']):.1f} ms |")
        print()
        for name, sorts in totals.items():
            print(f"{name}: whole set median {statistics.median(sorts['relevance']):.1f} / "
                  f"{statistics.median(sorts['date']):.1f} ms (relevance / date), p95 {p95(sorts['relevance']):.1f}"
                  f" / {p95(sorts['date']):.1f} ms")
        print()
        for n, (name, archive) in enumerate((("SQLite", lite), ("PostgreSQL", pg))):
            rows = new_articles(args.store, offset=copied["articles"] + n * args.store)
            started = time.perf_counter()
            for row in rows:
                archive.write_now(articles.store, row)
            print(f"{name}: store {1000 * (time.perf_counter() - started) / len(rows):.2f} ms per article "
                  f"through the port ({len(rows):,} articles into {copied['articles']:,})")
        lite.close()
        pg.close()


if __name__ == "__main__":
    main()
