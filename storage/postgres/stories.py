"""Near-duplicate stories on PostgreSQL, told as storage.stories tells them on SQLite: the same MinHash
signatures of the same compared paragraphs (boilerplate left out, storage.postgres.boilerplate), the same
LSH band keys, the same choice among candidates (storage.stories.best_of); only the SQL is PostgreSQL's.

A new article (storage.postgres.articles.store) takes the story of the most similar stored article that
tells the same news, or founds its own (`story_id = id`); its signature and band keys are stored with it.
A copy of a held article (the same URL, GUID or normalised text) is not stored again and so joins it.

Several processes store into one server: two near-duplicates stored at the same moment would each not see the
other's uncommitted bands and found two stories. A store therefore takes a transaction-scoped advisory lock on
each of its band keys (in order, so two stores never wait on each other in a circle): a store sharing a band
with one under way waits for it to commit, then sees it; stores sharing no band do not wait on each other.
"""

from collections.abc import Collection
from typing import Any

import numpy as np
import psycopg

from storage.boilerplate import MIN_STORIES, key
from storage.postgres import boilerplate
from storage.postgres.db import rows
from storage.stories import (
    DEFAULT_THRESHOLD,
    MAX_CANDIDATES,
    Scheme,
    Told,
    band_keys,
    best_of,
    body,
    lines,
    scheme_for,
    signature_of,
    told,
)


def current_scheme(conn: psycopg.Connection) -> Scheme:
    """The scheme this archive's band keys were made with (the default threshold's if none was set)."""
    row = conn.execute("SELECT value FROM story_settings WHERE name = 'threshold'").fetchone()
    return scheme_for(float(row[0]) if row else DEFAULT_THRESHOLD)


def configure(conn: psycopg.Connection, threshold: float, boilerplate_stories: int = MIN_STORIES) -> bool:
    """Use this threshold (and this many stories to make a paragraph boilerplate) from now on; if it changes
    the banding, re-band every stored signature. Returns whether the bands were rebuilt."""
    old, new = current_scheme(conn), scheme_for(threshold)
    with conn.transaction():
        for name, value in (("threshold", repr(threshold)), ("boilerplate_stories", str(boilerplate_stories))):
            conn.execute("INSERT INTO story_settings VALUES (%s, %s) ON CONFLICT (name)"
                         " DO UPDATE SET value = excluded.value", [name, value])
        rebuild = (old.bands, old.rows) != (new.bands, new.rows)
        if rebuild:
            conn.execute("DELETE FROM story_bands")
            for article_id, blob in conn.execute("SELECT article_id, signature FROM story_signatures").fetchall():
                _insert_bands(conn, article_id, band_keys(np.frombuffer(blob, dtype=np.uint32), new))
    return rebuild


def assign(conn: psycopg.Connection, article_id: int, text: str, title: str = "") -> int:
    """Put a newly stored article into the story it belongs to (or a story of its own); its story id.

    Call inside the transaction that stored the article.
    """
    scheme = current_scheme(conn)
    paragraphs = lines(text)
    keys = {key(ws) for ws in paragraphs}
    ignored = boilerplate.learnt(conn, keys)
    compared = body(paragraphs, title, ignored)
    article = told(title, compared)
    sig = signature_of(compared, article.text)  # the shingles cut once, for both
    story_id = article_id
    if sig is not None:
        bands = band_keys(sig, scheme)
        _lock(conn, bands)
        best = _best_candidate(conn, sig, bands, scheme.threshold, article_id, article)
        story_id = article_id if best is None else best
        conn.execute("INSERT INTO story_signatures VALUES (%s, %s) ON CONFLICT (article_id)"
                     " DO UPDATE SET signature = excluded.signature", [article_id, sig.tobytes()])
        _insert_bands(conn, article_id, bands)
    conn.execute("UPDATE articles SET story_id = %s WHERE id = %s", [story_id, article_id])
    learn(conn, keys - ignored, story_id)
    return story_id


def learn(conn: psycopg.Connection, keys: Collection[int], story_id: int) -> None:
    """Record a story's paragraphs (those not yet boilerplate); when some become boilerplate by it, sign again
    the articles that were signed with them, so that they are compared without them from now on."""
    became = boilerplate.learn(conn, keys, story_id)
    if not became:
        return
    signed_with = boilerplate.stories_with(conn, became)
    for article_id, title, text in conn.execute(
            "SELECT id, title, text FROM articles WHERE story_id = ANY(%s::bigint[])", [signed_with]).fetchall():
        resign(conn, article_id, text, title)


def resign(conn: psycopg.Connection, article_id: int, text: str, title: str = "") -> None:
    """An article's text changed: replace its signature and band keys; it stays in its story."""
    conn.execute("DELETE FROM story_bands WHERE article_id = %s", [article_id])
    conn.execute("DELETE FROM story_signatures WHERE article_id = %s", [article_id])
    paragraphs = lines(text)
    sig = signature_of(body(paragraphs, title, boilerplate.learnt(conn, {key(ws) for ws in paragraphs})))
    if sig is not None:
        conn.execute("INSERT INTO story_signatures VALUES (%s, %s)", [article_id, sig.tobytes()])
        _insert_bands(conn, article_id, band_keys(sig, current_scheme(conn)))


def members(conn: psycopg.Connection, story_id: int) -> list[dict[str, Any]]:
    """The articles of a story, first one first, each with `sources`: every source that carried it."""
    found = rows(conn, "SELECT id, source, url, canonical_url, title, published, fetched_at FROM articles"
                       " WHERE story_id = %s ORDER BY id", [story_id])
    for row in found:
        row["sources"] = [source for (source,) in conn.execute(
            "SELECT source FROM article_sources WHERE article_id = %s ORDER BY seen_at, source", [row["id"]])]
    return found


def outlets(conn: psycopg.Connection, story_id: int) -> list[str]:
    """The names of every source that carried this story, in the order they first did."""
    return [source for (source,) in conn.execute(
        """SELECT s.source FROM article_sources s JOIN articles a ON a.id = s.article_id
           WHERE a.story_id = %s GROUP BY s.source ORDER BY min(s.seen_at), s.source""", [story_id])]


BAND_LOCKS = 0x7665  # the advisory locks' first key ("ve"): two-key locks of their own, apart from one-key ones


def _lock(conn: psycopg.Connection, keys: list[int]) -> None:
    """Wait for the stores under way that share one of these band keys; held until this transaction ends."""
    parts = sorted({k & 0x7FFFFFFF for k in keys})  # a lock's second key is 32 bits: folding only adds waits
    with conn.cursor() as cursor:
        cursor.executemany("SELECT pg_advisory_xact_lock(%s::int, %s::int)", [(BAND_LOCKS, p) for p in parts])


def _insert_bands(conn: psycopg.Connection, article_id: int, keys: list[int]) -> None:
    with conn.cursor() as cursor:
        cursor.executemany("INSERT INTO story_bands VALUES (%s, %s) ON CONFLICT DO NOTHING",
                           [(k, article_id) for k in keys])


def _best_candidate(conn: psycopg.Connection, sig: np.ndarray, keys: list[int], threshold: float,
                    article_id: int, article: Told) -> int | None:
    """The story of the most similar stored article at or above the threshold that tells the same news."""
    # the candidates sharing the most bands first: they are the likeliest to be the same story
    candidates = conn.execute(
        """WITH hits AS (
                SELECT article_id, count(*) AS shared FROM story_bands
                WHERE key = ANY(%s::bigint[]) AND article_id != %s
                GROUP BY article_id ORDER BY shared DESC LIMIT %s)
            SELECT hits.article_id, s.signature, a.story_id FROM hits
            JOIN story_signatures s ON s.article_id = hits.article_id
            JOIN articles a ON a.id = hits.article_id""", [keys, article_id, MAX_CANDIDATES]).fetchall()
    return best_of(sig, candidates, threshold, article, lambda candidate: _told(conn, candidate))


def _told(conn: psycopg.Connection, article_id: int) -> Told:
    """How a stored article tells its news, its boilerplate as the archive knows it now left out."""
    title, text = conn.execute("SELECT title, text FROM articles WHERE id = %s", [article_id]).fetchone() or ("", "")
    paragraphs = lines(text)
    return told(title, body(paragraphs, title, boilerplate.learnt(conn, {key(ws) for ws in paragraphs})))
