"""Stories on PostgreSQL, for now the plain rule: each article is a story of its own, unless it is a copy of
one already held (the same canonical URL, GUID or normalised text: storage.postgres.articles), which joins
the held article rather than being stored again. The near-duplicate stories of SQLite (storage.stories:
MinHash signatures, LSH bands, learnt boilerplate) are not done here yet: light rewrites of one story by
two outlets are two stories, and alert twice.
"""

import psycopg


def configure(conn: psycopg.Connection, threshold: float, boilerplate_stories: int = 3) -> bool:
    """Record the dedup settings (kept for when near-duplicate stories and boilerplate come); no bands to
    rebuild: False."""
    for name, value in (("threshold", repr(threshold)), ("boilerplate_stories", str(boilerplate_stories))):
        conn.execute("INSERT INTO story_settings VALUES (%s, %s) ON CONFLICT (name)"
                     " DO UPDATE SET value = excluded.value", [name, value])
    return False
