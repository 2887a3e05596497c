"""Deduplication and story clustering: quality of grouping, and speed as the archive grows.

    .venv/bin/python -m bench.dedup                 # quality on ~3,000 articles, speed up to 20k articles
    .venv/bin/python -m bench.dedup --sizes 0,25000,50000,100000

Quality: a generated set with known duplicate groups (exact copies at other URLs, light rewrites with another
title, an added paragraph, other boilerplate and a few edited words, and unrelated articles on the same topic
with its stock phrases) goes through `storage.articles.store`; pairwise precision and recall of the stories
found against the true groups. With boilerplate (the default set), some outlets put their standard closing
paragraph under every article, and a fifth of the groups are short briefs and a quarter short press releases,
each release ending with its sender's "About us", the same under that sender's releases on every site: what
over-merged stories before boilerplate was learnt.

Speed: the archive is filled with articles (through the same `store`) up to each size, then a batch of
new articles (a fifth of them copies or rewrites of stored ones) is timed through `store`, and the same rows
through a plain insert into a raw table with the same FTS index (the baseline: what storing costs without
any dedup). The ratio dedup / raw should stay flat as the archive grows.
"""

import argparse
import itertools
import random
import sqlite3
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from storage import articles, open_archive, stories

SYLLABLES = [c + v for c in "bcdfglmnprstv" for v in ("a", "e", "i", "o", "u", "ou", "an", "on", "é", "ai")]
OUTLETS = [f"outlet{n}" for n in range(30)]


def vocabulary(rng: random.Random, size: int) -> list[str]:
    """Distinct pseudo-words, shortest first, so that frequent words are short as in a real language."""
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.choice((1, 2, 2, 3, 3, 4)))))
    return sorted(words, key=lambda w: (len(w), w))


@dataclass
class Language:
    """Common words (Zipf-like), and per topic its own words and stock phrases."""

    common: list[str]
    cum_weights: list[float]
    topics: list[tuple[list[str], list[str]]]

    @classmethod
    def make(cls, rng: random.Random, n_topics: int = 12) -> "Language":
        words = vocabulary(rng, 12_000)
        common, rest = words[:6_000], words[6_000:]
        topics = []
        for t in range(n_topics):
            own = rest[t * 400:(t + 1) * 400]
            phrases = [" ".join(rng.choice(own) for _ in range(rng.randint(2, 5))) for _ in range(15)]
            topics.append((own, phrases))
        return cls(common, list(itertools.accumulate(1 / (rank + 1) ** 1.05 for rank in range(len(common)))),
                   topics)

    def sentence(self, rng: random.Random, topic: int) -> str:
        own, phrases = self.topics[topic]
        n = rng.randint(10, 24)
        out = rng.choices(self.common, cum_weights=self.cum_weights, k=n)
        for i in range(n):
            roll = rng.random()
            if roll < 0.08:
                out[i] = rng.choice(phrases)
            elif roll < 0.30:
                out[i] = rng.choice(own)
        return " ".join(out).capitalize() + "."

    def paragraph(self, rng: random.Random, topic: int) -> str:
        return " ".join(self.sentence(rng, topic) for _ in range(rng.randint(2, 4)))

    def story(self, rng: random.Random, topic: int) -> list[str]:
        return [self.paragraph(rng, topic) for _ in range(rng.randint(3, 7))]

    def brief(self, rng: random.Random, topic: int) -> list[str]:
        """A short article: one paragraph of two sentences."""
        return [f"{self.sentence(rng, topic)} {self.sentence(rng, topic)}"]

    def title(self, rng: random.Random, topic: int) -> str:
        own, _ = self.topics[topic]
        picked = [rng.choice(own) for _ in range(rng.randint(2, 4))]
        picked += rng.choices(self.common, cum_weights=self.cum_weights, k=rng.randint(2, 4))
        rng.shuffle(picked)
        return " ".join(picked).capitalize()

    def plain(self, rng: random.Random, sentences: int) -> str:
        """A paragraph of common words only, as boilerplate reads."""
        return " ".join(" ".join(rng.choices(self.common, cum_weights=self.cum_weights, k=rng.randint(10, 24)))
                        .capitalize() + "." for _ in range(sentences))


@dataclass
class Boilerplate:
    """What is repeated under articles: some outlets' closing lines, each sender's "About us"."""

    closings: dict[str, str]
    about: list[str]

    @classmethod
    def make(cls, rng: random.Random, lang: Language, outlets: int = 12, senders: int = 12) -> "Boilerplate":
        return cls({o: lang.plain(rng, rng.randint(4, 6)) for o in OUTLETS[:outlets]},
                   [f"À propos de sender{s}. {lang.plain(rng, rng.randint(5, 8))}" for s in range(senders)])

    def closed(self, outlet: str, paragraphs: list[str]) -> list[str]:
        """The paragraphs as this outlet publishes them: with its closing lines, if it has some."""
        return [*paragraphs, self.closings[outlet]] if outlet in self.closings else paragraphs


def rewrite(rng: random.Random, lang: Language, topic: int, paragraphs: list[str], outlet: str) -> list[str]:
    """An outlet's light rewrite: its boilerplate, the story with a few words changed, maybe an extra paragraph."""
    edited = []
    for p in paragraphs:
        words = p.split()
        for _ in range(rng.randint(0, 2)):
            words[rng.randrange(len(words))] = rng.choice(lang.common[:500])
        edited.append(" ".join(words))
    if rng.random() < 0.6:
        edited.insert(rng.randint(1, len(edited)), lang.paragraph(rng, topic))
    return [f"Publié par la rédaction de {outlet}, avec agences.", *edited,
            f"Retrouvez toute l'actualité sur {outlet}. Abonnez-vous à notre lettre d'information."]


def item(source: str, url: str, title: str, paragraphs: list[str]) -> dict[str, Any]:
    return {"source": source, "url": url, "canonical_url": url, "title": title, "text": "\n".join(paragraphs),
            "published": "2026-01-01T00:00:00+00:00"}


def labelled_set(rng: random.Random, lang: Language, groups: int,
                 extras: Boilerplate | None = None) -> list[tuple[int, dict[str, Any]]]:
    """(true group, article) pairs: ~40% lone stories, the rest carried 2 to 6 times, shuffled.

    With boilerplate (`extras`), a fifth of the groups are briefs and a quarter press releases (carried 1 to
    4 times), and outlets with closing lines add them to every article they publish.
    """
    out: list[tuple[int, dict[str, Any]]] = []
    for g in range(groups):
        topic = rng.randrange(len(lang.topics))
        kind = rng.random() if extras else 0.0
        tail: list[str] = []
        if kind < 0.55:
            base = lang.story(rng, topic)
            copies = 1 if rng.random() < 0.4 else rng.randint(2, 6)
        else:
            base = lang.brief(rng, topic)
            tail = [rng.choice(extras.about)] if extras and kind >= 0.75 else []
            copies = rng.randint(1, 4)
        title = lang.title(rng, topic)
        for c in range(copies):
            outlet = rng.choice(OUTLETS)
            url = f"https://{outlet}.example/{g}/{c}"
            if c == 0 or rng.random() < 0.3:
                paragraphs, headline = base, title
            else:
                paragraphs, headline = rewrite(rng, lang, topic, base, outlet), lang.title(rng, topic)
            paragraphs = [*paragraphs, *tail]
            out.append((g, item(outlet, url, headline, extras.closed(outlet, paragraphs) if extras else paragraphs)))
    rng.shuffle(out)
    return out


def pairs(sizes: Counter[Any]) -> int:
    return sum(n * (n - 1) // 2 for n in sizes.values())


def quality(lang: Language, groups: int, threshold: float, seed: int, boilerplate: bool = True) -> dict[str, float]:
    """Pairwise precision and recall of story grouping on a labelled set; the largest story found."""
    rng = random.Random(seed)
    data = labelled_set(rng, lang, groups, Boilerplate.make(rng, lang) if boilerplate else None)
    with tempfile.TemporaryDirectory() as tmp:
        db = open_archive(Path(tmp) / "q.db")
        stories.configure(db, threshold)
        found = []
        for group, row in data:
            stored = articles.store(db, row)
            found.append((group, stored.article_id))
        story_of = dict(db.execute("SELECT id, story_id FROM articles").fetchall())
        db.close()
    labels = [(g, story_of[a]) for g, a in found]
    together = pairs(Counter(labels))  # pairs in the same true group and the same story
    sizes = Counter(s for _, s in labels)
    predicted, true = pairs(sizes), pairs(Counter(g for g, _ in labels))
    return {"articles": len(data), "groups": groups, "stories": len(sizes), "largest": max(sizes.values()),
            "precision": together / predicted if predicted else 1.0,
            "recall": together / true if true else 1.0}


RAW_SCHEMA = """
CREATE TABLE articles (id INTEGER PRIMARY KEY, source TEXT, url TEXT, canonical_url TEXT, title TEXT,
                       text TEXT, published TEXT);
CREATE VIRTUAL TABLE articles_fts USING fts5(title, text, content='articles', content_rowid='id',
                                             tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
END;
"""


def raw_insert(raw: sqlite_utils.Database, rows: list[dict[str, Any]]) -> None:
    """The baseline: each row inserted in its own transaction, as `store` does, with no lookups."""
    for row in rows:
        with raw.conn:
            raw.conn.execute("INSERT INTO articles (source, url, canonical_url, title, text, published)"
                             " VALUES (:source, :url, :canonical_url, :title, :text, :published)", row)


def batch(rng: random.Random, lang: Language, held: list[dict[str, Any]], n: int, tag: str) -> list[dict[str, Any]]:
    """n articles to store: four fifths new stories, one fifth copies or rewrites of stored articles."""
    out = []
    for i in range(n):
        outlet = rng.choice(OUTLETS)
        url = f"https://{outlet}.example/{tag}/{i}"
        topic = rng.randrange(len(lang.topics))
        if held and rng.random() < 0.2:
            base = rng.choice(held)
            out.append(item(outlet, url, "Copy", rewrite(rng, lang, topic, base["text"].split("\n"), outlet)))
        else:
            out.append(item(outlet, url, f"Story {tag}-{i}", lang.story(rng, topic)))
    return out


def speed(lang: Language, sizes: list[int], batch_size: int, seed: int) -> list[dict[str, float]]:
    """Articles per second through `store` and through a raw insert, at each archive size."""
    rng = random.Random(seed)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        db = open_archive(Path(tmp) / "dedup.db")
        raw = sqlite_utils.Database(sqlite3.connect(Path(tmp) / "raw.db"))
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=NORMAL")
        raw.executescript(RAW_SCHEMA)
        held: list[dict[str, Any]] = []
        size = 0
        for target in sizes:
            while size < target:  # fill both archives up to the size, untimed
                rows = batch(rng, lang, held[-2000:], min(2000, target - size), f"fill{size}")
                for row in rows:
                    articles.store(db, row)
                raw_insert(raw, rows)
                held = (held + rows)[-4000:]
                size += len(rows)
            rows = batch(rng, lang, held, batch_size, f"at{target}")
            wall, cpu = time.perf_counter(), time.process_time()
            for row in rows:
                articles.store(db, row)
            dedup_rate = len(rows) / (time.perf_counter() - wall)
            dedup_ms = (time.process_time() - cpu) * 1000 / len(rows)
            wall, cpu = time.perf_counter(), time.process_time()
            raw_insert(raw, rows)
            raw_rate = len(rows) / (time.perf_counter() - wall)
            raw_ms = (time.process_time() - cpu) * 1000 / len(rows)
            size += len(rows)
            held = (held + rows)[-4000:]
            results.append({"archive": target, "dedup_per_s": dedup_rate, "raw_per_s": raw_rate,
                            "dedup_cpu_ms": dedup_ms, "raw_cpu_ms": raw_ms})
            # CPU time per article is steadier than the rate on a shared machine
            print(f"  {target:>9} | {dedup_rate:8.0f} | {raw_rate:8.0f} | {raw_rate / dedup_rate:5.1f}x |"
                  f" {dedup_ms:8.2f} | {raw_ms:8.2f}", flush=True)
        db.close()
        raw.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groups", type=int, default=1200, help="true stories in the quality set")
    parser.add_argument("--sizes", default="0,5000,10000,20000", help="archive sizes to time at")
    parser.add_argument("--batch", type=int, default=1000, help="articles timed at each size")
    parser.add_argument("--threshold", type=float, default=stories.DEFAULT_THRESHOLD)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quality-only", action="store_true", help="measure grouping only, not speed")
    args = parser.parse_args()
    lang = Language.make(random.Random(args.seed))

    for boilerplate in (True, False):
        print(f"quality (threshold {args.threshold}), {'with' if boilerplate else 'without'} boilerplate:")
        for t in sorted({args.threshold, 0.5, 0.7}):
            q = quality(lang, args.groups, t, args.seed, boilerplate)
            print(f"  threshold {t:.2f}: {q['articles']} articles in {q['groups']} true groups -> "
                  f"{q['stories']} stories (largest {q['largest']}); "
                  f"precision {q['precision']:.3f}, recall {q['recall']:.3f}", flush=True)
    if args.quality_only:
        return
    print(f"speed (batch of {args.batch} at each archive size, one core):")
    print("    archive | dedup/s  |   raw/s  | ratio | dedup ms |  raw ms   (ms: CPU time per article)")
    speed(lang, [int(s) for s in args.sizes.split(",")], args.batch, args.seed)


if __name__ == "__main__":
    main()
