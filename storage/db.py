"""Opening the archive and keeping its schema up to date.

Migrations are numbered functions, each run once in its own transaction and recorded in `_migrations`.
"""

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from storage import boilerplate
from storage.errors import StorageError

log = logging.getLogger("veille.storage")


def now_iso() -> str:
    """The current UTC time as stored in the archive (ISO 8601, seconds)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@contextlib.contextmanager
def write(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A write transaction that takes the write lock first (BEGIN IMMEDIATE), committed at the end.

    Taken at once, the lock is waited for (the busy timeout) while another process holds it; a plain
    BEGIN that reads first would instead fail at its first write if that process wrote in the meantime.
    Inside another transaction, a savepoint of it.
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    try:
        db.conn.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise


def _m001_initial(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            url TEXT NOT NULL,
            canonical_url TEXT NOT NULL UNIQUE,
            guid TEXT,
            title TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL DEFAULT '',
            author TEXT,
            published TEXT,
            language TEXT,
            fetched_at TEXT NOT NULL,
            full_text INTEGER NOT NULL DEFAULT 1,
            content_hash TEXT,
            story_id INTEGER,
            matched_at TEXT
        );
        CREATE UNIQUE INDEX articles_source_guid ON articles(source, guid) WHERE guid IS NOT NULL;
        CREATE INDEX articles_unmatched ON articles(id) WHERE matched_at IS NULL;
        CREATE INDEX articles_published ON articles(published);
        CREATE INDEX articles_source ON articles(source);
        CREATE INDEX articles_story ON articles(story_id);
        CREATE INDEX articles_hash ON articles(content_hash);

        CREATE TABLE article_sources (
            article_id INTEGER NOT NULL REFERENCES articles(id),
            source TEXT NOT NULL,
            url TEXT NOT NULL,
            seen_at TEXT NOT NULL,
            PRIMARY KEY (article_id, source)
        );

        CREATE TABLE matches (
            article_id INTEGER NOT NULL REFERENCES articles(id),
            topic TEXT NOT NULL,
            terms TEXT NOT NULL,
            matched_at TEXT NOT NULL,
            PRIMARY KEY (article_id, topic)
        );
        CREATE INDEX matches_topic ON matches(topic, article_id);

        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            story_id INTEGER NOT NULL,
            article_id INTEGER NOT NULL REFERENCES articles(id),
            topic TEXT NOT NULL,
            chat_id INTEGER NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            message_id INTEGER,
            queued_at TEXT NOT NULL,
            not_before TEXT,
            sent_at TEXT,
            UNIQUE (story_id, topic, chat_id)
        );
        CREATE INDEX outbox_pending ON outbox(state, id);

        CREATE TABLE sources (
            name TEXT PRIMARY KEY,
            last_attempt TEXT,
            last_success TEXT,
            last_error TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            items_seen INTEGER NOT NULL DEFAULT 0,
            items_new INTEGER NOT NULL DEFAULT 0,
            etag TEXT,
            last_modified TEXT
        );

        CREATE VIRTUAL TABLE articles_fts USING fts5(
            title, text, content='articles', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
            INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
        END;
        CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
            INSERT INTO articles_fts(articles_fts, rowid, title, text)
                VALUES ('delete', old.id, old.title, old.text);
        END;
        CREATE TRIGGER articles_au AFTER UPDATE OF title, text ON articles BEGIN
            INSERT INTO articles_fts(articles_fts, rowid, title, text)
                VALUES ('delete', old.id, old.title, old.text);
            INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
        END;
        """
    )


def _m002_chats(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE chats (
            chat_id INTEGER PRIMARY KEY,
            muted_until TEXT
        );
        CREATE TABLE subscriptions (
            chat_id INTEGER NOT NULL,
            topic TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (chat_id, topic)
        );
        """
    )


def _m003_stories(db: sqlite_utils.Database) -> None:
    # Stories are persistent: each article's MinHash signature and its LSH band keys live here, so that
    # finding a story's candidates is an indexed lookup whatever the archive's size, after any restart.
    db.executescript(
        """
        CREATE TABLE article_urls (
            url TEXT PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles(id)
        ) WITHOUT ROWID;
        INSERT OR IGNORE INTO article_urls SELECT canonical_url, id FROM articles;
        UPDATE articles SET story_id = id WHERE story_id IS NULL;

        CREATE TABLE story_signatures (
            article_id INTEGER PRIMARY KEY REFERENCES articles(id),
            signature BLOB NOT NULL
        );
        CREATE TABLE story_bands (
            key INTEGER NOT NULL,
            article_id INTEGER NOT NULL REFERENCES articles(id),
            PRIMARY KEY (key, article_id)
        ) WITHOUT ROWID;
        CREATE INDEX story_bands_article ON story_bands(article_id);
        CREATE TABLE story_settings (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """
    )
    from storage import stories  # numpy: imported only by the archives that need this step

    # articles stored before stories existed get their signatures, so that later copies can join them
    for article_id, title, text in db.execute("SELECT id, title, text FROM articles ORDER BY id").fetchall():
        stories.resign(db, article_id, text, title, without_boilerplate=False)  # no such table yet


def _m004_topic_rules(db: sqlite_utils.Database) -> None:
    # the rule each topic last ran with in the matcher: "the running config" for `veille topics test --diff`
    db.executescript(
        """
        CREATE TABLE topic_rules (
            topic TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            rule TEXT NOT NULL,
            since TEXT NOT NULL
        );
        """
    )


def _m005_source_backoff(db: sqlite_utils.Database) -> None:
    # when a failing source may be tried again (NULL: whenever it is due)
    db.execute("ALTER TABLE sources ADD COLUMN next_attempt TEXT")


def _m006_outbox_delivery(db: sqlite_utils.Database) -> None:
    # how a sent row went out: alone ('alert'), in a digest, or folded into an "N more" message
    db.executescript(
        """
        ALTER TABLE outbox ADD COLUMN delivery TEXT;
        CREATE INDEX outbox_chat_sent ON outbox(chat_id, sent_at);
        """
    )


def _m008_explore(db: sqlite_utils.Database) -> None:
    """A view for the web UI (one row per article with its month and topics, to facet on); indexes for search."""
    db.executescript(
        """
        CREATE VIEW IF NOT EXISTS articles_explore AS
        SELECT a.id, a.title, a.url, a.source, a.language, a.published,
               substr(coalesce(a.published, a.fetched_at), 1, 7) AS month,
               (SELECT json_group_array(m.topic) FROM matches m WHERE m.article_id = a.id) AS topics,
               a.story_id, a.author
        FROM articles a;
        -- the date every search filters and sorts on, to bound a dated search to a range of rowids
        CREATE INDEX IF NOT EXISTS articles_date ON articles(coalesce(published, fetched_at));
        -- what ranking reads of each hit, so that it never reads the article's text off disk
        CREATE INDEX IF NOT EXISTS articles_meta
            ON articles(id, published, fetched_at, source, language, story_id);
        """
    )


def _m009_fts_prefix(db: sqlite_utils.Database) -> None:
    """The full-text index rebuilt with prefix indexes, so that `souver*` reads one list, newest first.

    Without them FTS5 answers a prefix query by merging, on every statement, the whole list of every word
    the prefix expands to. FTS5 uses a prefix index only for a prefix of exactly that many characters:
    3 to 8 covers the stems people type (`cyber*`, `souver*`, `numériq*`); others still work, unindexed.
    """
    db.executescript(
        """
        DROP TRIGGER IF EXISTS articles_ai;
        DROP TRIGGER IF EXISTS articles_ad;
        DROP TRIGGER IF EXISTS articles_au;
        DROP TABLE articles_fts;
        CREATE VIRTUAL TABLE articles_fts USING fts5(
            title, text, content='articles', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2', prefix='3 4 5 6 7 8'
        );
        CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
            INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
        END;
        CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
            INSERT INTO articles_fts(articles_fts, rowid, title, text)
                VALUES ('delete', old.id, old.title, old.text);
        END;
        CREATE TRIGGER articles_au AFTER UPDATE OF title, text ON articles BEGIN
            INSERT INTO articles_fts(articles_fts, rowid, title, text)
                VALUES ('delete', old.id, old.title, old.text);
            INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
        END;
        INSERT INTO articles_fts(articles_fts) VALUES ('rebuild');
        """
    )


def _m010_outbox_claims(db: sqlite_utils.Database) -> None:
    """Who is sending an alert (state 'sending') and until when the claim holds; chats Telegram moved."""
    db.executescript(
        """
        ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
        ALTER TABLE outbox ADD COLUMN lease_until TEXT;
        CREATE TABLE chat_migrations (
            chat_id INTEGER PRIMARY KEY,
            new_chat_id INTEGER NOT NULL,
            migrated_at TEXT NOT NULL
        );
        """
    )


def _m011_story_paragraphs(db: sqlite_utils.Database) -> None:
    """The stories each paragraph was seen in, to learn boilerplate (storage.boilerplate), learnt from the
    articles already held, in the order they came; those signed with boilerplate are signed again without."""
    db.execute(
        """CREATE TABLE story_paragraphs (
            key INTEGER NOT NULL,
            story_id INTEGER NOT NULL,
            PRIMARY KEY (key, story_id)
        ) WITHOUT ROWID""")
    from storage import stories  # numpy: imported only by the archives that need this step

    for story_id, text in db.execute("SELECT coalesce(story_id, id), text FROM articles ORDER BY id"):
        keys = {boilerplate.key(ws) for ws in stories.lines(text)}
        stories.learn(db, keys - boilerplate.learnt(db, keys), story_id)


def _m012_explore_canonical(db: sqlite_utils.Database) -> None:
    """The web UI's articles link to their canonical URL (no ?utm_source=...), as search and alerts do."""
    db.execute("DROP VIEW IF EXISTS articles_explore")
    db.execute(
        """CREATE VIEW articles_explore AS
        SELECT a.id, a.title, a.canonical_url AS url, a.source, a.language, a.published,
               substr(coalesce(a.published, a.fetched_at), 1, 7) AS month,
               (SELECT json_group_array(m.topic) FROM matches m WHERE m.article_id = a.id) AS topics,
               a.story_id, a.author
        FROM articles a""")


def _m013_curation(db: sqlite_utils.Database) -> None:
    """What analysts keep at the desk (storage.curation): stars, tags and notes, each with who and when."""
    db.executescript(
        """
        CREATE TABLE curation_stars (
            article_id INTEGER NOT NULL REFERENCES articles(id),
            who TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (article_id, who)
        );
        CREATE TABLE curation_tags (
            article_id INTEGER NOT NULL REFERENCES articles(id),
            tag TEXT NOT NULL,
            who TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (article_id, tag)
        );
        CREATE TABLE curation_notes (
            id INTEGER PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles(id),
            note TEXT NOT NULL,
            who TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX curation_notes_article ON curation_notes(article_id);
        CREATE INDEX curation_tags_at ON curation_tags(at);
        CREATE INDEX curation_stars_at ON curation_stars(at);
        """
    )
def _m014_stories_again(db: sqlite_utils.Database) -> None:
    """Stories as today's folding and boilerplate tell them: every article signed again with the one text module
    (storage.text: `cœur` = `coeur`, elided articles dropped), and the articles grouped before boilerplate was
    learnt (releases sharing an "About us") taken out of stories whose news they do not tell."""
    from storage import stories  # numpy: imported only by the archives that need this step

    for article_id, title, text in db.execute("SELECT id, title, text FROM articles ORDER BY id").fetchall():
        stories.resign(db, article_id, text, title)
    stories.split_wrong_merges(db)


def _m015_watch(db: sqlite_utils.Database) -> None:
    """Watched pages: the versions kept of each, and how many checks in a row found it gone."""
    db.executescript(
        """
        CREATE TABLE watch_versions (
            source TEXT NOT NULL,
            number INTEGER NOT NULL,
            fetched_at TEXT NOT NULL,
            url TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            lines TEXT NOT NULL,
            added TEXT NOT NULL,
            removed TEXT NOT NULL,
            article_id INTEGER REFERENCES articles(id),
            PRIMARY KEY (source, number)
        );
        CREATE TABLE watch_gone (
            source TEXT PRIMARY KEY,
            checks INTEGER NOT NULL,
            since TEXT NOT NULL
        );
        """)


def _m016_workers(db: sqlite_utils.Database) -> None:
    """Workers: each `veille run` process's role, host and last heartbeat (storage.workers)."""
    db.executescript(
        """
        CREATE TABLE workers (
            worker TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            started TEXT NOT NULL,
            last_beat TEXT NOT NULL
        );
        """)


def _m017_signed_here(db: sqlite_utils.Database) -> None:
    """Signatures as storage.minhash makes them: an archive signed by datasketch 1 is signed again."""
    from storage import stories  # numpy: imported only by the archives that need this step

    sample = db.execute("SELECT a.title, a.text, s.signature FROM story_signatures s"
                        " JOIN articles a ON a.id = s.article_id ORDER BY s.article_id DESC LIMIT 16").fetchall()
    if stories.signed_otherwise(sample):
        log.info("signing the archive's articles again (their signatures were made by datasketch 1)")
        for article_id, title, text in db.execute("SELECT id, title, text FROM articles ORDER BY id").fetchall():
            stories.resign(db, article_id, text, title)


# Numbered, never renumbered: a new migration takes the next free number.
MIGRATIONS: dict[int, Callable[[sqlite_utils.Database], None]] = {
    1: _m001_initial,
    2: _m002_chats,
    3: _m003_stories,
    4: _m004_topic_rules,
    5: _m005_source_backoff,
    6: _m006_outbox_delivery,
    8: _m008_explore,
    9: _m009_fts_prefix,
    10: _m010_outbox_claims,
    11: _m011_story_paragraphs,
    12: _m012_explore_canonical,
    13: _m013_curation,
    14: _m014_stories_again,
    15: _m015_watch,
    16: _m016_workers,
    17: _m017_signed_here,
}


def migrate(db: sqlite_utils.Database) -> None:
    """Run every migration this archive has not recorded yet, each in its own transaction."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (number INTEGER PRIMARY KEY, applied_at TEXT)")
    done = {row["number"] for row in db.query("SELECT number FROM _migrations")}
    for number, migration in sorted(MIGRATIONS.items()):
        if number in done:
            continue
        if done:  # an archive in use: some steps take minutes on a large one, say what is going on
            log.info("upgrading the archive: step %d, %s", number, (migration.__doc__ or "").split("\n")[0])
        with db.atomic():
            migration(db)
            db.execute("INSERT INTO _migrations VALUES (?, ?)", [number, now_iso()])


def connect(path: str | Path, *, readonly: bool = False, timeout: float = 30.0) -> sqlite_utils.Database:
    """A connection to the archive at `path` as it is (read-only: it must exist), usable from any one thread
    at a time; a statement finding the archive locked by another process waits up to `timeout` seconds."""
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, timeout=timeout, check_same_thread=False)
    return sqlite_utils.Database(conn)


def open_archive(path: str | Path, *, readonly: bool = False, timeout: float = 30.0) -> sqlite_utils.Database:
    """Open (creating if needed) the archive at `path`, in WAL mode, migrated to the current schema.

    A statement that finds the archive locked by another process waits up to `timeout` seconds.
    """
    path = Path(path)
    try:
        if readonly:
            return connect(path, readonly=True, timeout=timeout)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        db = connect(path, timeout=timeout)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        migrate(db)
    except (sqlite3.Error, OSError) as exc:
        raise StorageError(f"cannot open the archive {path}: {exc}") from exc
    return db
