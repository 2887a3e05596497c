"""Search latency on a generated archive: `veille search` (storage.search) against raw FTS5 in the same run.

    .venv/bin/python -m bench.search                 # 100k articles (about a minute)
    .venv/bin/python -m bench.search --articles 1000000 --raw-repeat 1 --keep /tmp/veille-1m.db  # minutes

Articles are French-ish text drawn from a Zipf vocabulary, so that frequent words are in most articles (the
hard case for bm25), dated over three years in arrival order with some late back-filled ones, from 200
sources of uneven size, 10% of them copies of an earlier story. Reports the median and p95 latency of each
query in the set, in both sort orders, for our search and for the raw FTS5 query, and the database size
per article. Process start is excluded: the database is opened once and warmed.
"""

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from storage import open_archive
from storage.search import DATE, TITLE_WEIGHT, search

# The head of the vocabulary, most frequent first: grammar words, then the domain words people search.
HEAD = ["de", "la", "cloud", "le", "et", "données", "les", "des", "sécurité", "à", "en", "souverain", "du", "un",
        "une", "pour", "numérique", "est", "que", "dans", "état", "sur", "par", "au", "entreprises", "qui", "pas",
        "plus", "européenne", "service", "marché", "projet", "services", "acteurs", "france", "gouvernement",
        "offre", "stratégie", "ministère", "cybersécurité", "hébergement", "confiance", "solution",
        "administration", "public", "infrastructure"]
SYLLABLES = ["ca", "lo", "ré", "ti", "on", "men", "par", "té", "vi", "sou", "ver", "na", "gé", "pro", "con",
             "tra", "ment", "ique", "al", "eur", "ance", "is", "ble", "de", "com", "ser", "fi", "no", "ma"]
QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("cloud", {}),                                   # frequent: in most articles
    ("données", {}),
    ('"cloud souverain"', {}),                        # phrase of two frequent words
    ("sécurité AND confiance", {}),
    ("cloud NOT sécurité", {}),
    ("NEAR(cloud données, 5)", {}),
    ("souver*", {}),                                 # prefix
    ("capromen", {}),                                 # mid-frequency words (filled in from the vocabulary)
    ("RARE1", {}),                                    # rare words
    ("RARE2 OR RARE3", {}),
    ("cloud", {"source": "source007"}),              # frequent, with filters
    ("cloud", {"since": "RECENT"}),
    ("données", {"topic": "cloud-souverain"}),
    ("sécurité", {"lang": "en"}),
    ("MID", {"until": "OLD"}),
]


def vocabulary(size: int, rng: np.random.Generator) -> list[str]:
    """HEAD followed by made-up French-looking words of 2 to 4 syllables."""
    words = list(dict.fromkeys(HEAD))
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES, size=int(rng.integers(2, 5))))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def generate(path: Path, n: int, seed: int = 7) -> None:
    """An archive of n articles, written with plain SQL inserts and one FTS5 rebuild."""
    rng = np.random.default_rng(seed)
    words = np.array(vocabulary(50_000, rng))
    weights = 1.0 / np.arange(1, len(words) + 1) ** 1.07
    weights /= weights.sum()
    db = open_archive(path)
    conn = db.conn
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("DROP TRIGGER articles_ai")  # the index is built once at the end
    start = datetime(2023, 1, 1, tzinfo=UTC)
    span = 3 * 365 * 86400
    sources = [f"source{i:03}" for i in range(200)]
    source_weights = 1.0 / np.arange(1, 201)
    source_weights /= source_weights.sum()
    chunk = 20_000
    for first in range(1, n + 1, chunk):
        count = min(chunk, n + 1 - first)
        body = words[rng.choice(len(words), size=(count, 110), p=weights)]
        picks = rng.choice(200, size=count, p=source_weights)
        rows, carried, matched = [], [], []
        for i in range(count):
            article_id = first + i
            seconds = span * article_id / n
            if rng.random() < 0.05:
                seconds -= rng.random() * span / 3  # back-filled: arrives late
            published = (start + timedelta(seconds=max(0.0, seconds))).isoformat(timespec="seconds")
            story = int(rng.integers(max(1, article_id - 50), article_id)) if rng.random() < 0.1 and \
                article_id > 1 else article_id
            text = " ".join(body[i])
            lang = "en" if rng.random() < 0.1 else "fr"
            source = sources[picks[i]]
            url = f"https://{source}.example/{article_id}"
            rows.append((article_id, source, url, url, " ".join(body[i][:8]), text, published, lang,
                         published, story))
            carried.append((article_id, source, url, published))
            if "souverain" in text:
                matched.append((article_id, "cloud-souverain", "[]", published))
        conn.executemany("""INSERT INTO articles (id, source, url, canonical_url, title, text, published, language,
                            fetched_at, story_id) VALUES (?,?,?,?,?,?,?,?,?,?)""", rows)
        conn.executemany("INSERT OR IGNORE INTO article_sources VALUES (?,?,?,?)", carried)
        conn.executemany("INSERT OR IGNORE INTO matches VALUES (?,?,?,?)", matched)
        conn.commit()
    conn.execute("INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')")
    conn.execute("INSERT INTO articles_fts(articles_fts) VALUES ('optimize')")
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("VACUUM")
    conn.close()


def raw(db: sqlite_utils.Database, query: str, sort: str, **filters: Any) -> list[dict[str, Any]]:
    """The plain FTS5 query: every hit ranked by weighted bm25 (or sorted by date), then the first 20."""
    where = ["articles_fts MATCH :query"]
    params: dict[str, Any] = {"query": query, "weight": TITLE_WEIGHT, **filters}
    conditions = {"source": "a.source = :source", "since": f"{DATE} >= :since", "until": f"{DATE} < :until",
                  "lang": "a.language = :lang",
                  "topic": "EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id AND m.topic = :topic)"}
    where += [conditions[k] for k in filters]
    order = "bm25(articles_fts, :weight, 1.0)" if sort == "relevance" else f"{DATE} DESC"
    return list(db.query(f"""
        SELECT a.id, a.url, a.title, a.source, a.published, snippet(articles_fts, -1, '[', ']', '…', 24) AS s
        FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid
        WHERE {" AND ".join(where)} ORDER BY {order} LIMIT 20""", params))


def timed(run: Callable[[], Any], repeat: int) -> list[float]:
    if repeat > 1:
        run()  # warm the page cache
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def concrete_queries(db: sqlite_utils.Database) -> list[tuple[str, dict[str, Any]]]:
    """The query set with its placeholders filled from this archive's vocabulary and dates."""
    words = vocabulary(50_000, np.random.default_rng(7))
    last = next(db.query("SELECT max(published) AS d FROM articles"))["d"]
    recent = (datetime.fromisoformat(last) - timedelta(days=30)).isoformat()
    fill = {"RARE1": words[30_000], "RARE2": words[40_000], "RARE3": words[45_000], "MID": words[400],
            "capromen": words[150], "RECENT": recent, "OLD": "2024-01-01"}
    out = []
    for query, filters in QUERIES:
        for key, value in fill.items():
            query = query.replace(key, value)
        out.append((query, {k: fill.get(v, v) for k, v in filters.items()}))
    return out


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per query")
    parser.add_argument("--raw-repeat", type=int, help="timed runs per raw query (default: --repeat); raw "
                        "bm25 over a frequent word takes seconds at 1M articles")
    parser.add_argument("--keep", type=Path, help="generate here once and reuse it on later runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "bench.db"
        if not path.exists():
            t0 = time.perf_counter()
            generate(path, args.articles)
            print(f"generated {args.articles} articles in {time.perf_counter() - t0:.0f} s")
        db = open_archive(path)
        n = next(db.query("SELECT count(*) AS n FROM articles"))["n"]
        size = path.stat().st_size
        print(f"{n} articles, {size / 1e6:.0f} MB, {size / n:.0f} bytes per article\n")
        print(f"{'query':<34} {'sort':<9} {'hits':>7} {'ours med':>9} {'p95':>7} {'raw med':>8} {'p95':>7} "
              f"{'raw/ours':>8}")
        ours_all: dict[str, list[float]] = {"relevance": [], "date": []}
        raw_all: dict[str, list[float]] = {"relevance": [], "date": []}
        for query, filters in concrete_queries(db):
            hits = next(db.query("SELECT count(*) AS n FROM articles_fts WHERE articles_fts MATCH ?", [query]))["n"]
            for sort in ("relevance", "date"):
                ours = timed(partial(search, db, query, sort=sort, **filters), args.repeat)
                base = timed(partial(raw, db, query, sort, **filters), args.raw_repeat or args.repeat)
                ours_all[sort] += ours
                raw_all[sort] += base
                label = query + "".join(f" --{k} {v[:10]}" for k, v in filters.items())
                print(f"{label[:34]:<34} {sort:<9} {hits:>7} {statistics.median(ours):>9.1f} {p95(ours):>7.1f} "
                      f"{statistics.median(base):>8.1f} {p95(base):>7.1f} "
                      f"{statistics.median(base) / statistics.median(ours):>8.1f}")
        print()
        for sort in ("relevance", "date"):
            print(f"whole set, {sort:<9}: ours median {statistics.median(ours_all[sort]):.1f} ms, p95 "
                  f"{p95(ours_all[sort]):.1f} ms; raw median {statistics.median(raw_all[sort]):.1f} ms, p95 "
                  f"{p95(raw_all[sort]):.1f} ms")


if __name__ == "__main__":
    main()
