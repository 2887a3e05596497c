"""Boilerplate: paragraphs that say who published an article, not what happened, learnt from the archive.

A site's standard closing lines, a sender's "About us" / "À propos de X", a reprint notice: the same paragraph
comes back under stories that have nothing else in common. `story_paragraphs` records, for each paragraph
(a hash of its folded words), the stories it was seen in; a paragraph seen in `MIN_STORIES` distinct stories
or more is boilerplate, and stories leave it out when they compare texts. A wire story carried by many sites
keeps its paragraphs in one story, so they never count as boilerplate however often they are copied.

Topics match an article's text without its boilerplate (`left_out`); the archive keeps the whole text.

Once a paragraph is boilerplate it is no longer recorded: each paragraph has at most `MIN_STORIES` rows, so
looking one up costs the same whatever the archive's size, and the few articles signed with it before it was
known are found (`stories_with`) and signed again without it.
"""

import hashlib
from collections.abc import Callable, Collection, Iterable

import sqlite_utils

from storage.text import words

MIN_STORIES = 3  # unless `dedup.boilerplate_stories` says otherwise (stories.configure records it)


def key(words: Iterable[str]) -> int:
    """A paragraph's key: a 63-bit hash of its folded words (SQLite integers are signed 64-bit)."""
    digest = hashlib.blake2b(" ".join(words).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def learnt(db: sqlite_utils.Database, keys: Collection[int]) -> set[int]:
    """Which of these paragraph keys the archive has seen in enough distinct stories to be boilerplate."""
    if not keys:
        return set()
    marks = ",".join("?" * len(keys))
    return {row[0] for row in db.execute(
        f"SELECT key FROM story_paragraphs WHERE key IN ({marks}) GROUP BY key HAVING count(*) >= coalesce("
        "(SELECT CAST(value AS INTEGER) FROM story_settings WHERE name = 'boilerplate_stories'), ?)",
        [*keys, MIN_STORIES])}


def learn(db: sqlite_utils.Database, keys: Collection[int], story_id: int) -> set[int]:
    """Record that these paragraphs (not boilerplate yet) were seen in this story; those that became
    boilerplate by it."""
    db.conn.executemany("INSERT OR IGNORE INTO story_paragraphs VALUES (?, ?)", [(k, story_id) for k in keys])
    return learnt(db, keys)


def stories_with(db: sqlite_utils.Database, keys: Collection[int]) -> list[int]:
    """The stories these paragraphs were recorded in (while they were not boilerplate yet)."""
    marks = ",".join("?" * len(keys))
    return [row[0] for row in db.execute(
        f"SELECT DISTINCT story_id FROM story_paragraphs WHERE key IN ({marks}) ORDER BY story_id", [*keys])]


def left_out(db: sqlite_utils.Database, text: str) -> str:
    """The text without the paragraphs (lines) the archive knows as boilerplate: what topics match, so that a
    keyword in a sender's "About us" does not fire on every one of its press releases."""
    return without(text, lambda keys: learnt(db, keys))


def without(text: str, known: Callable[[set[int]], set[int]]) -> str:
    """The text without the lines whose keys `known` says are boilerplate (either backend's `learnt`)."""
    paragraphs = text.splitlines()
    keys = [key(ws) if (ws := words(line)) else None for line in paragraphs]
    ignored = known({k for k in keys if k is not None})
    if not ignored:
        return text
    return "\n".join(line for line, k in zip(paragraphs, keys, strict=True) if k not in ignored)
