"""Boilerplate learnt on PostgreSQL, as storage.boilerplate learns it on SQLite: the same paragraph keys
(`key`), the same `story_paragraphs` rows, the same threshold (`story_settings.boilerplate_stories`); only
the SQL is PostgreSQL's. Topics match an article's text without it (`left_out`)."""

from collections.abc import Collection

import psycopg

from storage.boilerplate import MIN_STORIES, without


def learnt(conn: psycopg.Connection, keys: Collection[int]) -> set[int]:
    """Which of these paragraph keys the archive has seen in enough distinct stories to be boilerplate."""
    if not keys:
        return set()
    return {row[0] for row in conn.execute(
        "SELECT key FROM story_paragraphs WHERE key = ANY(%s::bigint[]) GROUP BY key HAVING count(*) >= coalesce("
        "(SELECT value::integer FROM story_settings WHERE name = 'boilerplate_stories'), %s)",
        [list(keys), MIN_STORIES])}


def learn(conn: psycopg.Connection, keys: Collection[int], story_id: int) -> set[int]:
    """Record that these paragraphs (not boilerplate yet) were seen in this story; those that became
    boilerplate by it."""
    with conn.cursor() as cursor:
        cursor.executemany("INSERT INTO story_paragraphs VALUES (%s, %s) ON CONFLICT DO NOTHING",
                           [(k, story_id) for k in keys])
    return learnt(conn, keys)


def stories_with(conn: psycopg.Connection, keys: Collection[int]) -> list[int]:
    """The stories these paragraphs were recorded in (while they were not boilerplate yet)."""
    return [row[0] for row in conn.execute(
        "SELECT DISTINCT story_id FROM story_paragraphs WHERE key = ANY(%s::bigint[]) ORDER BY story_id", [list(keys)])]


def left_out(conn: psycopg.Connection, text: str) -> str:
    """The text without the paragraphs (lines) the archive knows as boilerplate: what topics match."""
    return without(text, lambda keys: learnt(conn, keys))
