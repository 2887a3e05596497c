"""Stories: articles that tell the same news, grouped by MinHash LSH over word shingles, kept in SQLite.

`articles.story_id` is the id of the first article of its story (an article alone is its own story,
`story_id = id`). A later article whose text is near enough to any article already in a story takes
that story's id, so the outbox's UNIQUE(story_id, topic, chat_id) sends one alert per story, and
`members()` / `outlets()` tell who carried it.

Each article's signature (128 MinHash values, storage.minhash) and its LSH band keys (one per band of r values,
hashed with the band's number) are stored in `story_signatures` and `story_bands`. Finding the stories an article may
join is one indexed query on its band keys, then an exact signature comparison with those few candidates:
the cost per article does not grow with the archive. The banding depends on the threshold; when the
threshold changes, `configure()` recomputes every article's band keys from the stored signatures, once.

Texts are compared without their boilerplate (see storage.boilerplate), and similar text alone is not enough:
an article does not join a story whose article has both a clearly different title and a clearly different
lead (`same_news`), as short press releases sharing one long "About us" would.
"""

import functools
import hashlib
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlite_utils

from storage import boilerplate, minhash
from storage.text import words

NUM_PERM = minhash.NUM_PERM
SHINGLE = 3  # words per shingle
MIN_WORDS = 20  # a teaser of a few words is too generic to tell a story apart
MAX_CANDIDATES = 50  # signatures compared per article, whatever the archive's size
DEFAULT_THRESHOLD = 0.6
LEAD_WORDS = 12  # the lead is the first paragraph this long: "Par notre rédaction, avec AFP." is none
SAME_TITLE = 0.6  # titles sharing less of their words are clearly different ("X annonce un rachat" / "un contrat": 0.5)
SAME_LEAD = 0.5  # a lead with less of its shingles than this in the other text is clearly not there

@dataclass(frozen=True)
class Scheme:
    """How signatures are cut into LSH bands for one threshold: `bands` bands of `rows` values."""

    threshold: float
    bands: int
    rows: int


@functools.lru_cache(maxsize=16)
def scheme_for(threshold: float) -> Scheme:
    """The banding best for this threshold, weighted towards recall.

    Every candidate is checked against its stored signature, so a false positive only costs one comparison,
    while a false negative is a story missed: with even weights a pair right at the threshold is found
    about half the time; with these, above 95% of the time.
    """
    bands, rows = minhash.banding(threshold, 0.05, 0.95)
    return Scheme(threshold, bands, rows)


def lines(text: str) -> list[list[str]]:
    """The words of each non-empty line (paragraph) of the text."""
    return [ws for line in text.splitlines() if (ws := words(line))]


def body(paragraphs: list[list[str]], title: str, ignored: Collection[int] = ()) -> list[list[str]]:
    """The paragraphs that count when texts are compared: neither the title repeated nor boilerplate.

    Outlets retitle the stories they carry, and extracted text often starts with the page's headline.
    """
    headline = words(title)
    return [ws for ws in paragraphs if ws != headline and boilerplate.key(ws) not in ignored]


def shingles(tokens: list[str]) -> set[str]:
    """The runs of SHINGLE words of these tokens."""
    return {" ".join(tokens[i:i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1)}


def signature_of(paragraphs: list[list[str]], shingled: Collection[str] | None = None) -> np.ndarray | None:
    """The MinHash signature of these paragraphs' word shingles (`shingled`, when the caller has them), or None
    for a text too short to compare."""
    if sum(len(ws) for ws in paragraphs) < MIN_WORDS:
        return None
    if shingled is None:
        shingled = shingles([w for ws in paragraphs for w in ws])
    return minhash.signature([s.encode() for s in shingled])


def signature(text: str, title: str = "", ignored: Collection[int] = ()) -> np.ndarray | None:
    """The signature of the text without its title lines and the `ignored` (boilerplate) paragraphs."""
    return signature_of(body(lines(text), title, ignored))


@dataclass(frozen=True)
class Told:
    """How an article tells its news: its title's words, its lead's shingles and all its shingles."""

    title: frozenset[str]
    lead: frozenset[str]
    text: frozenset[str]


def told(title: str, paragraphs: list[list[str]]) -> Told:
    """The title, lead and shingles of an article's compared paragraphs (see `body`)."""
    lead = next((ws for ws in paragraphs if len(ws) >= LEAD_WORDS), [])
    return Told(frozenset(w for w in words(title) if len(w) > 2 or w.isdigit()), frozenset(shingles(lead)),
                frozenset(shingles([w for ws in paragraphs for w in ws])))


def same_news(a: Told, b: Told) -> bool:
    """Whether two similar texts may tell one story: not when both their titles and their leads differ.

    A copy keeps its title, or its lead (an outlet that retitles a wire story keeps its first paragraph);
    two releases sharing an "About us" keep neither.
    """
    union = a.title | b.title
    if union and len(a.title & b.title) / len(union) >= SAME_TITLE:
        return True
    if not a.lead or not b.lead:  # no lead to tell them apart
        return True
    return (len(a.lead & b.text) / len(a.lead) >= SAME_LEAD) or (len(b.lead & a.text) / len(b.lead) >= SAME_LEAD)


def band_keys(sig: np.ndarray, scheme: Scheme) -> list[int]:
    """One key per band: a 63-bit hash of the band's number and values (equal keys, equal bands)."""
    keys = []
    for band in range(scheme.bands):
        chunk = sig[band * scheme.rows:(band + 1) * scheme.rows].tobytes()
        digest = hashlib.blake2b(band.to_bytes(2, "big") + chunk, digest_size=8).digest()
        keys.append(int.from_bytes(digest, "big") >> 1)  # SQLite integers are signed 64-bit
    return keys


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """The Jaccard similarity of two texts' shingles, as estimated from their signatures."""
    return float(np.count_nonzero(a == b)) / len(a)


def signed_otherwise(samples: Iterable[tuple[str, str, bytes]]) -> bool:
    """Whether these stored signatures (with their article's title and text) were made by another MinHash
    than storage.minhash's (datasketch 1's): signed again, a text agrees with its stored signature on about
    as many values as it shares shingles with the text signed then (most: boilerplate learnt since aside);
    signed by other permutations, on almost none (a value in 2³² by chance)."""
    agreements = [similarity(sig, np.frombuffer(blob, dtype=np.uint32))
                  for title, text, blob in samples if (sig := signature(text, title)) is not None]
    return bool(agreements) and max(agreements) < 0.05


def current_scheme(db: sqlite_utils.Database) -> Scheme:
    """The scheme this archive's band keys were made with (the default threshold's if none was set)."""
    row = db.execute("SELECT value FROM story_settings WHERE name = 'threshold'").fetchone()
    return scheme_for(float(row[0]) if row else DEFAULT_THRESHOLD)


def configure(db: sqlite_utils.Database, threshold: float,
              boilerplate_stories: int = boilerplate.MIN_STORIES) -> bool:
    """Use this threshold (and this many stories to make a paragraph boilerplate) from now on; if it changes
    the banding, re-band every stored signature.

    Returns whether the bands were rebuilt. Stories already formed are kept as they are.
    """
    old = current_scheme(db)
    new = scheme_for(threshold)
    with db.atomic():
        db.execute("INSERT OR REPLACE INTO story_settings VALUES ('threshold', ?)", [repr(threshold)])
        db.execute("INSERT OR REPLACE INTO story_settings VALUES ('boilerplate_stories', ?)",
                   [str(boilerplate_stories)])
        rebuild = (old.bands, old.rows) != (new.bands, new.rows)
        if rebuild:
            db.execute("DELETE FROM story_bands")
            for article_id, blob in db.execute("SELECT article_id, signature FROM story_signatures"):
                _insert_bands(db, article_id, band_keys(np.frombuffer(blob, dtype=np.uint32), new))
    return rebuild


def assign(db: sqlite_utils.Database, article_id: int, text: str, title: str = "") -> int:
    """Put a newly stored article into the story it belongs to (or a story of its own); its story id.

    Call inside the transaction that stored the article.
    """
    scheme = current_scheme(db)
    paragraphs = lines(text)
    keys = {boilerplate.key(ws) for ws in paragraphs}
    ignored = boilerplate.learnt(db, keys)
    compared = body(paragraphs, title, ignored)
    article = told(title, compared)
    sig = signature_of(compared, article.text)  # the shingles cut once, for both
    story_id = article_id
    if sig is not None:
        bands = band_keys(sig, scheme)
        best = _best_candidate(db, sig, bands, scheme.threshold, article_id, article)
        if best is not None:
            story_id = best
        db.execute("INSERT OR REPLACE INTO story_signatures VALUES (?, ?)", [article_id, sig.tobytes()])
        _insert_bands(db, article_id, bands)
    db.execute("UPDATE articles SET story_id = ? WHERE id = ?", [story_id, article_id])
    learn(db, keys - ignored, story_id)
    return story_id


def learn(db: sqlite_utils.Database, keys: Collection[int], story_id: int) -> None:
    """Record a story's paragraphs (those not yet boilerplate); when some become boilerplate by it, sign again
    the articles that were signed with them, so that they are compared without them from now on."""
    became = boilerplate.learn(db, keys, story_id)
    if not became:
        return
    signed_with = boilerplate.stories_with(db, became)
    marks = ",".join("?" * len(signed_with))
    for article_id, title, text in db.execute(
            f"SELECT id, title, text FROM articles WHERE story_id IN ({marks})", signed_with).fetchall():
        resign(db, article_id, text, title)


def resign(db: sqlite_utils.Database, article_id: int, text: str, title: str = "", *,
           without_boilerplate: bool = True) -> None:
    """An article's text changed: replace its signature and band keys; it stays in its story.

    `without_boilerplate=False` signs the whole text (for archives older than the boilerplate table).
    """
    db.execute("DELETE FROM story_bands WHERE article_id = ?", [article_id])
    db.execute("DELETE FROM story_signatures WHERE article_id = ?", [article_id])
    paragraphs = lines(text)
    ignored = boilerplate.learnt(db, {boilerplate.key(ws) for ws in paragraphs}) if without_boilerplate else set()
    sig = signature_of(body(paragraphs, title, ignored))
    if sig is not None:
        db.execute("INSERT INTO story_signatures VALUES (?, ?)", [article_id, sig.tobytes()])
        _insert_bands(db, article_id, band_keys(sig, current_scheme(db)))


def split_wrong_merges(db: sqlite_utils.Database) -> int:
    """Take out of each story the articles that tell other news than the rest (their titles and leads both
    differ from every article kept): stories grouped before boilerplate was learnt, or by an older folding.
    An article taken out founds a story with those like it. Returns how many articles changed story."""
    moved = 0
    shared = db.execute("SELECT story_id FROM articles WHERE story_id IS NOT NULL"
                        " GROUP BY story_id HAVING count(*) > 1").fetchall()
    for (story_id,) in shared:
        groups: list[list[tuple[int, Told]]] = []
        members = db.execute("SELECT id FROM articles WHERE story_id = ? ORDER BY id", [story_id]).fetchall()
        for (article_id,) in members:
            article = _told(db, article_id)
            group = next((g for g in groups if any(same_news(article, other) for _, other in g)), None)
            if group is None:
                groups.append([(article_id, article)])
            else:
                group.append((article_id, article))
        for group in groups[1:]:
            founder = group[0][0]
            ids = [article_id for article_id, _ in group]
            db.execute(f"UPDATE articles SET story_id = ? WHERE id IN ({','.join('?' * len(ids))})", [founder, *ids])
            moved += len(ids)
    return moved


def _insert_bands(db: sqlite_utils.Database, article_id: int, keys: list[int]) -> None:
    db.conn.executemany("INSERT OR IGNORE INTO story_bands VALUES (?, ?)", [(k, article_id) for k in keys])


def _best_candidate(db: sqlite_utils.Database, sig: np.ndarray, keys: list[int], threshold: float,
                    article_id: int, article: Told) -> int | None:
    """The story of the most similar stored article at or above the threshold that tells the same news."""
    marks = ",".join("?" * len(keys))
    # the candidates sharing the most bands first: they are the likeliest to be the same story
    rows = db.execute(
        f"""WITH hits AS (
                SELECT article_id, count(*) AS shared FROM story_bands
                WHERE key IN ({marks}) AND article_id != ?
                GROUP BY article_id ORDER BY shared DESC LIMIT ?)
            SELECT hits.article_id, s.signature, a.story_id FROM hits
            JOIN story_signatures s ON s.article_id = hits.article_id
            JOIN articles a ON a.id = hits.article_id""", [*keys, article_id, MAX_CANDIDATES]).fetchall()
    return best_of(sig, rows, threshold, article, lambda candidate: _told(db, candidate))


def best_of(sig: np.ndarray, candidates: Iterable[tuple[int, bytes, int]], threshold: float, article: Told,
            told_of: Callable[[int], Told]) -> int | None:
    """The story of the candidate (article id, stored signature, story id) most similar to `sig`, at or above
    the threshold, that tells the same news as `article` (`told_of` reads a candidate's); None if none."""
    scored = sorted(((similarity(sig, np.frombuffer(blob, dtype=np.uint32)), int(candidate), int(story_id))
                     for candidate, blob, story_id in candidates), reverse=True)
    for score, candidate, story_id in scored:
        if score < threshold:
            break
        if same_news(article, told_of(candidate)):
            return story_id
    return None


def _told(db: sqlite_utils.Database, article_id: int) -> Told:
    """How a stored article tells its news, its boilerplate as the archive knows it now left out."""
    title, text = db.execute("SELECT title, text FROM articles WHERE id = ?", [article_id]).fetchone()
    paragraphs = lines(text)
    return told(title, body(paragraphs, title, boilerplate.learnt(db, {boilerplate.key(ws) for ws in paragraphs})))


def members(db: sqlite_utils.Database, story_id: int) -> list[dict[str, Any]]:
    """The articles of a story, first one first, each with `sources`: every source that carried it."""
    rows = list(db.query(
        "SELECT id, source, url, canonical_url, title, published, fetched_at FROM articles"
        " WHERE story_id = ? ORDER BY id", [story_id]))
    for row in rows:
        row["sources"] = [r["source"] for r in db.query(
            "SELECT source FROM article_sources WHERE article_id = ? ORDER BY seen_at, source", [row["id"]])]
    return rows


def outlets(db: sqlite_utils.Database, story_id: int) -> list[str]:
    """The names of every source that carried this story, in the order they first did."""
    return [r["source"] for r in db.query(
        """SELECT s.source, min(s.seen_at) AS first FROM article_sources s
           JOIN articles a ON a.id = s.article_id
           WHERE a.story_id = ? GROUP BY s.source ORDER BY first, s.source""",
        [story_id])]
