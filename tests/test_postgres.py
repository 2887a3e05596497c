"""The PostgreSQL archive (storage.postgres) against a real server: schema, search, outbox claims.

The server is the session's own (tests/pg_server.py); each test gets a fresh database. Without PostgreSQL
these tests skip and say why.
"""

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import ConnectionPool, PoolTimeout

from storage import ArchiveBusyError, ArchiveFullError, SearchSyntaxError, StorageError, open_archive, postgres
from storage.outbox import Match
from storage.postgres import articles, outbox, schema, search, stories
from storage.postgres.errors import storage_error
from storage.postgres.tsquery import MAX_NEAR_SPAN, tsquery
from storage.search import search as sqlite_search
from storage.serving import CURATION_TABLES
from storage.stories import scheme_for
from tests.archive_fixtures import ARTICLES, build
from tests.test_search import ARTICLES_SAID, SAME_WORDS
from tests.test_stories import OTHER, WIRE, rewrite

# The same words' queries that PostgreSQL answers otherwise than SQLite, and why: none so far.
NOT_ON_POSTGRES: dict[str, str] = {}


@pytest.fixture
def pool(pg_archive: str) -> Iterator[ConnectionPool]:
    with postgres.connect(pg_archive) as opened:
        yield opened


def add(pool: ConnectionPool, slug: str, title: str, text: str, **more: str) -> int:
    url = f"https://example.org/{slug}"
    with pool.connection() as conn:
        return articles.store(conn, {"source": "s", "url": url, "canonical_url": url, "title": title,
                                     "text": text, "published": "2025-03-05T08:00:00+00:00", **more}).article_id


def found(pool: ConnectionPool, query: str) -> set[int]:
    with pool.connection() as conn:
        return {row["id"] for row in search.search(conn, query, all_copies=True)}


def test_migrations_run_once_are_recorded_and_make_the_sqlite_tables(pg_url: str, tmp_path: Path) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert postgres.migrate(conn) == sorted(postgres.MIGRATIONS)
        first = conn.execute("SELECT number, applied_at FROM _migrations ORDER BY number").fetchall()
        assert postgres.migrate(conn) == [], "nothing runs twice"
        assert conn.execute("SELECT number, applied_at FROM _migrations ORDER BY number").fetchall() == first
        tables = {name for (name,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
    sqlite = open_archive(tmp_path / "veille.db")
    # the desk's curation tables are the web UI's, which Datasette serves from SQLite only
    expected = {name for name in sqlite.table_names() + sqlite.view_names()
                if not name.startswith("articles_fts")} - CURATION_TABLES
    assert tables == expected


def test_processes_starting_together_migrate_one_after_the_other(pg_url: str) -> None:
    ran: list[list[int]] = []
    with psycopg.connect(pg_url, autocommit=True) as first, psycopg.connect(pg_url, autocommit=True) as second:
        pid = second.info.backend_pid
        with first.transaction():
            first.execute("SELECT pg_advisory_xact_lock(%s)", [schema.MIGRATION_LOCK])  # as migrating does
            later = threading.Thread(target=lambda: ran.append(postgres.migrate(second)))
            later.start()
            waiting = False
            while later.is_alive() and not waiting:
                time.sleep(0.01)  # a poll of what the server says, not a measure of time
                waiting = first.execute("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s",
                                        [pid]).fetchone() == (True,)
            assert waiting, "the second process waits for the first"
        later.join()
    assert ran == [sorted(postgres.MIGRATIONS)]


def test_an_archive_that_cannot_be_reached_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError) as error:
        postgres.connect(f"postgresql://veille:secret@/veille?host={tmp_path}", timeout=2)
    message = str(error.value)
    assert message.startswith("cannot open the archive") and "\n" not in message
    assert "secret" not in message


@pytest.mark.parametrize(("query", "expected"), [case for case in SAME_WORDS if case[0] not in NOT_ON_POSTGRES])
def test_the_same_words_find_the_same_articles_as_on_sqlite(pool: ConnectionPool, query: str,
                                                           expected: set[str]) -> None:
    slugs = {add(pool, slug, title, text): slug for slug, (title, text) in ARTICLES_SAID.items()}
    assert {slugs[i] for i in found(pool, query)} == expected


# The SQLite search tests' queries and filters (tests/test_search.py), over the same archive on both backends
ON_BOTH = [
    ('"cloud souverain"', {}), ("cloud confiance", {}), ("securite", {}), ("qualifiees", {}), ("ÉTAT", {}),
    ("certif*", {}), ("NEAR(fibre Cantal, 5)", {}), ("souver*", {}), ("fibre OR souverain", {}),
    *[("souverain OR securite", {name: value}) for name, value in (
        ("since", "2025-01-01"), ("until", "2024-12-31"), ("until", "2024-06-01"), ("source", "usine"),
        ("lang", "en"), ("topic", "cloud-souverain"))],
]


@pytest.fixture
def both(tmp_path: Path, pool: ConnectionPool) -> Iterator[tuple[object, ConnectionPool]]:
    """archive_fixtures' archive on SQLite, and the same articles, story and matches on PostgreSQL."""
    _, db, _ = build(tmp_path)
    ids = {}
    with pool.connection() as conn:
        for a in ARTICLES:
            url = f"https://{a['source']}.example/{a['slug']}"
            ids[a["slug"]] = articles.store(conn, {**a, "url": url, "canonical_url": url, "guid": a["slug"]}).article_id
            for topic in a["topics"]:
                conn.execute("INSERT INTO matches VALUES (%s, %s, '[]', now())", [ids[a["slug"]], topic])
        conn.execute("UPDATE articles SET story_id = %s WHERE id = %s", [ids["doctrine"], ids["doctrine-reprise"]])
    yield db, pool
    db.close()


@pytest.mark.parametrize(("query", "filters"), ON_BOTH)
def test_the_sqlite_search_tests_queries_find_the_same_on_postgres(both: tuple, query: str,
                                                                  filters: dict[str, str]) -> None:
    db, pool = both
    with pool.connection() as conn:
        for sort in ("relevance", "date"):
            for all_copies in (True, False):
                on_sqlite, on_postgres = (
                    [(r["url"], r["published"], r.get("outlets")) for r in found]
                    for found in (sqlite_search(db, query, sort=sort, all_copies=all_copies, **filters),
                                  search.search(conn, query, sort=sort, all_copies=all_copies, **filters)))
                if sort == "relevance":  # ranked otherwise (bm25, ts_rank_cd): the same hits, and stories
                    on_sqlite, on_postgres = sorted(on_sqlite), sorted(on_postgres)
                if not all_copies:  # a story's best copy is chosen by its rank
                    on_sqlite, on_postgres = ([hit[1:] for hit in hits] for hits in (on_sqlite, on_postgres))
                assert on_postgres == on_sqlite, (sort, all_copies)


def test_snippets_mark_the_hits_as_written(both: tuple) -> None:
    _, pool = both
    with pool.connection() as conn:
        assert "[SÉCURITÉ]" in search.search(conn, "securite", source="lemagit")[0]["snippet"]


def test_french_stems_find_plurals_and_conjugations(pool: ConnectionPool) -> None:
    plural = add(pool, "pluriel", "Les clouds souverains", "Un texte sur l'hébergement.")
    verb = add(pool, "verbe", "L'État gouverne son cloud", "Une doctrine attendue.")
    assert found(pool, "souverain") == {plural}
    assert found(pool, "gouverner") == {verb}, "gouverner and gouverne share their French stem, not a prefix"
    assert found(pool, '"gouverner"') == set(), "a quoted word is as written"


def test_a_title_word_ranks_above_a_text_word_and_snippets_mark_the_hits(pool: ConnectionPool) -> None:
    in_title = add(pool, "titre", "Un cloud souverain pour l'État", "Le ministère adopte une offre.")
    in_text = add(pool, "texte", "Actualités", "Le ministère adopte un cloud souverain pour ses données.")
    with pool.connection() as conn:
        rows = search.search(conn, "souverain")
    assert [row["id"] for row in rows] == [in_title, in_text]
    assert "[souverain]" in rows[1]["snippet"]
    assert rows[0]["published"] == "2025-03-05T08:00:00+00:00"


def test_one_result_per_story_unless_all_copies(pool: ConnectionPool) -> None:
    first = add(pool, "a", "Le cloud souverain", "Premier texte.")
    copy = add(pool, "b", "Le cloud souverain, encore", "Second texte.")
    with pool.connection() as conn:
        conn.execute("UPDATE articles SET story_id = %s WHERE id = %s", [first, copy])
        assert len(search.search(conn, "cloud")) == 1
        assert {r["id"] for r in search.search(conn, "cloud", all_copies=True)} == {first, copy}


def test_a_frequent_word_ranks_only_its_newest_window_of_hits(pool: ConnectionPool,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    add(pool, "old", "Le cloud souverain", "Un texte ancien.")  # a title hit, but the oldest
    newer = {add(pool, f"new{n}", f"Actualité {n}", f"Le cloud et ses offres, épisode {n}.") for n in range(2)}
    monkeypatch.setattr(search, "FIRST_WINDOW", 2)
    with pool.connection() as conn:
        assert {row["id"] for row in search.search(conn, "cloud", limit=2)} == newer
        assert len(search.search(conn, "cloud", limit=3)) == 3, "widened when the window is not enough"


def test_a_window_full_of_copies_is_widened_until_enough_stories(pool: ConnectionPool,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    first = add(pool, "fibre", "La fibre et le cloud", "Un texte sur la fibre.")
    story = add(pool, "doctrine", "Le cloud souverain", "La doctrine.")
    with pool.connection() as conn:
        for outlet in "abc":  # the newest hits are all copies of one story
            copy = add(pool, f"copie-{outlet}", "Le cloud souverain", f"Copie {outlet}.")
            conn.execute("UPDATE articles SET story_id = %s WHERE id = %s", [story, copy])
        monkeypatch.setattr(search, "FIRST_WINDOW", 1)
        assert {row["story_id"] for row in search.search(conn, "cloud", limit=2)} == {first, story}


def test_a_query_that_cannot_be_read_is_a_search_syntax_error(pool: ConnectionPool) -> None:
    with pool.connection() as conn, pytest.raises(SearchSyntaxError, match="cannot read the query"):
        search.search(conn, "cloud AND")


def queued(pool: ConnectionPool, count: int) -> list[int]:
    article = add(pool, "alerte", "Le cloud souverain", "Un texte.")
    with pool.connection() as conn:
        for chat in range(count):
            outbox.queue(conn, article, article, "t", chat)
        return [row[0] for row in conn.execute("SELECT id FROM outbox ORDER BY id")]


def test_a_deliverer_skips_the_rows_another_is_claiming_without_waiting(pool: ConnectionPool) -> None:
    ids = queued(pool, 6)
    with pool.connection() as first, pool.connection() as second:
        second.execute("SET lock_timeout = '5s'")  # waiting on the first's locks fails the test
        with first.transaction():
            mine = outbox.claim_pending(first, limit=3)  # locked, not committed yet
            theirs = outbox.claim_pending(second, limit=10)
            assert not outbox.claim(second, mine[:1]), "a claim of a row another holds takes nothing"
    assert mine == ids[:3] and theirs == ids[3:]


def test_deliverers_claiming_at_once_never_get_the_same_row(pool: ConnectionPool) -> None:
    ids = queued(pool, 40)
    start = threading.Barrier(2)
    claimed: list[list[int]] = [[], []]

    def deliver(n: int) -> None:
        with psycopg.connect(pool.conninfo, autocommit=True) as conn:
            start.wait()
            while got := outbox.claim_pending(conn, limit=2):
                claimed[n].extend(got)

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not set(claimed[0]) & set(claimed[1])
    assert sorted(claimed[0] + claimed[1]) == ids


def test_a_claim_is_all_or_none_and_a_sent_alert_is_never_claimed_again(pool: ConnectionPool) -> None:
    ids = queued(pool, 3)
    with pool.connection() as conn:
        assert outbox.claim(conn, ids[:2])
        assert not outbox.claim(conn, ids[1:]), "one of them is held"
        assert conn.execute("SELECT state FROM outbox WHERE id = %s", [ids[2]]).fetchone() == ("pending",)
        outbox.mark_sent(conn, ids[:2], message_id=7)
        outbox.release(conn, ids[:2])
        assert outbox.claim_pending(conn) == ids[2:]


def test_a_hyphenated_word_is_its_parts_side_by_side_within_a_phrase(pool: ConnectionPool) -> None:
    joined = add(pool, "gaiax", "La France rejoint Gaïa-X", "Un texte.")
    assert found(pool, '"rejoint Gaia-X"') == found(pool, "rejoint-gaia-x") == {joined}


def test_searches_can_be_served_by_the_gin_index(pool: ConnectionPool) -> None:
    add(pool, "a", "Le cloud souverain", "Un texte.")
    with pool.connection() as conn, search.planned(conn, "enable_indexscan"):
        conn.execute("SET enable_seqscan = off")  # a tiny table: the planner would rightly read it all
        for query in ("cloud souverain NOT football", "souver*", '"l\'ANSSI"', "NEAR(club cloud, 5)"):
            sql, params = search.hits_statement(search.resolved(conn, query), [], [], 10)
            plan = "\n".join(row[0] for row in conn.execute(f"EXPLAIN {sql}", params))
            assert "Bitmap Index Scan on articles_search" in plan, plan


def test_a_frequent_word_walks_the_newest_articles_and_a_rare_one_is_found_by_the_index(
        pool: ConnectionPool) -> None:
    """The planner sees the tsquery: a word in every article fills the window from the newest rows; a rare
    word in an article older than those is found through the index."""
    rare = add(pool, "rare", "Un mot rarissime", "Un texte.")
    with pool.connection() as conn:
        conn.execute("""INSERT INTO articles (source, url, canonical_url, title, text, fetched_at)
                        SELECT 's', 'https://x.fr/' || n, 'https://x.fr/' || n, 'Le cloud ' || n,
                               'Le cloud souverain. ' || (SELECT string_agg(md5(n || '-' || i), ' ')
                                                          FROM generate_series(1, 40) i), now()
                        FROM generate_series(1, 5000) n""")  # rows of 1.4 kB, as articles are long
        conn.execute("ANALYZE articles")
        conn.execute("SET enable_seqscan = off")  # 5,000 short rows: read whole otherwise, as they should be
        sql, params = search.hits_statement(search.resolved(conn, "cloud"), ["a.id > %s"], [4000], 10)
        plan = "\n".join(row[0] for row in conn.execute(f"EXPLAIN {sql}", params, prepare=False))
        assert search.newest(conn, search.resolved(conn, "rarissime"), 10) == [rare]  # past the newest 200
        assert len(search.newest(conn, search.resolved(conn, "cloud"), 10)) == 10
        assert len(search.search(conn, "cloud", sort="date", all_copies=True)) == 20
    assert "Index Scan Backward using articles_pkey" in plan, plan


@pytest.mark.parametrize("every", [1, 7, 40, 400, 0])
def test_the_newest_hits_are_found_whatever_the_share_of_articles_holding_the_word(pool: ConnectionPool,
                                                                                   every: int) -> None:
    """Among the newest, by a walk further back or through the index: the same hits as the plain query."""
    with pool.connection() as conn:
        conn.execute("""INSERT INTO articles (source, url, canonical_url, title, text, fetched_at)
                        SELECT 's', 'https://x.fr/' || n, 'https://x.fr/' || n, 'Article ' || n,
                               CASE WHEN %s > 0 AND n %% %s = 0 OR n IN (3, 5) THEN 'Le mot repere.'
                                    ELSE 'Autre chose.' END, now()
                        FROM generate_series(1, 3000) n""", [every, max(every, 1)])
        conn.execute("ANALYZE articles")
        q = search.resolved(conn, "repere")
        plain = [i for (i,) in conn.execute("SELECT id FROM articles WHERE search @@ %s::tsquery"
                                            " ORDER BY id DESC LIMIT 10", [q])]
        assert search.newest(conn, q, 10) == plain
        assert 3 in search.newest(conn, q, 3000)


def test_filters_and_newest_first(pool: ConnectionPool) -> None:
    old = add(pool, "ancien", "Le cloud souverain", "Un texte.", published="2024-01-02T08:00:00+00:00")
    new = add(pool, "recent", "Un cloud", "Un texte.", source="autre")
    with pool.connection() as conn:
        assert [r["id"] for r in search.search(conn, "cloud", sort="date")] == [new, old]
        assert [r["id"] for r in search.search(conn, "cloud", since="2025-01-01")] == [new]
        assert [r["id"] for r in search.search(conn, "cloud", until="2025-01-01")] == [old]
        assert [r["id"] for r in search.search(conn, "cloud", source="autre")] == [new]


def test_near_reads_every_distance_both_ways_up_to_a_span_then_and() -> None:
    (close,) = tsquery("NEAR(club cloud, 3)").params
    assert close.count("<") == 6 and "'cloud':*AB <3> 'club':*AB" in close.replace("(", "").replace(")", "")
    (far,) = tsquery(f"NEAR(club cloud, {MAX_NEAR_SPAN + 1})").params
    assert "<" not in far and far.replace("(", "").replace(")", "") == "'club':*AB & 'cloud':*AB"


def test_search_refuses_what_it_cannot_find() -> None:
    for query, reason in (("souverain (cloud OR NOT football)", "cannot find 'x OR NOT y'"),
                          ("  ", "the query is empty"), ("cloud AND", "cannot read the query")):
        with pytest.raises(SearchSyntaxError, match=reason):
            tsquery(query)


def test_matches_and_their_alerts_are_one_transaction_each_story_alerted_once(pool: ConnectionPool) -> None:
    first = add(pool, "a", "Le cloud souverain", "Un texte.")
    copy = add(pool, "b", "Le cloud souverain, repris", "Un autre texte.")
    other = add(pool, "c", "Un autre cloud", "Un troisième texte.")
    match = Match("cloud", ["cloud souverain"], chats=[1, 2])
    with pool.connection() as conn:
        conn.execute("UPDATE articles SET story_id = %s WHERE id = %s", [first, copy])
        assert outbox.record_matches(conn, {"id": first, "story_id": first}, [match], alert=True) == 2
        assert outbox.record_matches(conn, {"id": copy, "story_id": first}, [match], alert=True) == 0
        assert conn.execute("SELECT terms FROM matches WHERE article_id = %s", [copy]).fetchone() == (
            ["cloud souverain"],)
        # its alert cannot be written (text holds no NUL), nor its match
        unsendable = Match("cloud", ["cloud"], chats=["json://127.0.0.1/\x00"])
        with pytest.raises(psycopg.DataError):
            outbox.record_matches(conn, {"id": other, "story_id": other}, [unsendable], alert=True)
        assert conn.execute("SELECT count(*) FROM matches WHERE article_id = %s", [other]).fetchone() == (0,)
        assert conn.execute("SELECT id FROM articles WHERE matched_at IS NULL").fetchall() == [(other,)]


def test_a_claim_whose_lease_ended_is_taken_again(pool: ConnectionPool) -> None:
    ids = queued(pool, 2)
    with pool.connection() as conn:
        assert outbox.claim_pending(conn, lease=timedelta(0)) == ids
        assert outbox.claim_pending(conn) == ids, "its holder is gone"
        assert outbox.claim_pending(conn) == [], "held until its lease ends"


def test_an_article_is_stored_once_whichever_way_it_comes_back(pool: ConnectionPool) -> None:
    text = "Le gouvernement présente sa doctrine du cloud souverain pour les administrations. " * 4
    item = {"source": "a", "url": "https://a.example/1?utm_source=rss", "canonical_url": "https://a.example/1",
            "guid": "g1", "title": "La doctrine", "text": text, "aliases": ["https://a.example/un"]}
    with pool.connection() as conn:
        first = articles.store(conn, item)
        again = [articles.store(conn, {**item, **change}) for change in (
            {"canonical_url": "https://a.example/un"},  # under another of its URLs
            {"canonical_url": "https://a.example/2", "aliases": []},  # its GUID
            {"source": "b", "url": "https://b.example/x", "canonical_url": "https://b.example/x", "guid": None,
             "aliases": []})]  # its text, from another source
        assert first.new and not any(stored.new for stored in again)
        assert {stored.article_id for stored in again} == {first.article_id}
        assert conn.execute("SELECT source FROM article_sources ORDER BY source").fetchall() == [("a",), ("b",)]
        assert conn.execute("SELECT story_id FROM articles").fetchall() == [(first.article_id,)]


def test_changing_the_threshold_rebands_the_stored_signatures(pool: ConnectionPool) -> None:
    first = add(pool, "afp", "Doctrine du cloud souverain", "\n".join(WIRE))
    with pool.connection() as conn:
        before = conn.execute("SELECT count(*) FROM story_bands").fetchone()
        assert stories.configure(conn, 0.5)
        after = conn.execute("SELECT count(*) FROM story_bands").fetchone()
        assert (before, after) == ((scheme_for(0.6).bands,), (scheme_for(0.5).bands,))
        assert not stories.configure(conn, 0.5)
    later = add(pool, "lemonde", "Doctrine du cloud souverain", "\n".join(rewrite(WIRE)))
    with pool.connection() as conn:
        assert conn.execute("SELECT story_id FROM articles WHERE id = %s", [later]).fetchone() == (first,)


def test_an_article_come_back_with_a_new_text_is_signed_again_and_keeps_its_story(pool: ConnectionPool) -> None:
    first = add(pool, "afp", "Doctrine du cloud souverain", "\n".join(WIRE))
    with pool.connection() as conn:
        signed = conn.execute("SELECT signature FROM story_signatures WHERE article_id = %s", [first]).fetchone()
    assert add(pool, "afp", "Doctrine du cloud souverain", "\n".join(OTHER)) == first
    with pool.connection() as conn:
        assert conn.execute("SELECT signature FROM story_signatures WHERE article_id = %s",
                            [first]).fetchone() != signed
        assert conn.execute("SELECT story_id FROM articles WHERE id = %s", [first]).fetchone() == (first,)
    later = add(pool, "lyon", "Nuagia qualifiée", "\n".join(OTHER[::-1]))
    with pool.connection() as conn:
        assert conn.execute("SELECT story_id FROM articles WHERE id = %s", [later]).fetchone() == (first,), \
            "a copy of the new text joins it"


@pytest.mark.parametrize(("error", "expected"), [
    (psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"), ArchiveBusyError),
    (psycopg.errors.SerializationFailure("could not serialize access"), ArchiveBusyError),
    (psycopg.errors.DeadlockDetected("deadlock detected"), ArchiveBusyError),
    (psycopg.errors.TooManyConnections("too many clients already"), ArchiveBusyError),
    (PoolTimeout("couldn't get a connection after 30.00 sec"), ArchiveBusyError),
    (psycopg.errors.DiskFull("could not extend file: No space left on device\nHINT: free space"), ArchiveFullError),
    (psycopg.OperationalError("server closed the connection unexpectedly\n\tThis probably means"), StorageError),
])
def test_psycopg_errors_are_storage_errors_of_one_line(error: psycopg.Error, expected: type) -> None:
    mapped = storage_error(error)
    assert type(mapped) is expected
    assert "\n" not in str(mapped) and str(error).splitlines()[0] in str(mapped)


def test_near_duplicates_stored_at_once_by_two_processes_are_one_story(pool: ConnectionPool) -> None:
    """The second store waits for the first's bands (an advisory lock per band), then joins its story."""
    wire = {"source": "a", "url": "https://a.fr/1", "canonical_url": "https://a.fr/1",
            "title": "Doctrine du cloud souverain", "text": "\n".join(WIRE)}
    copy = {**wire, "source": "b", "url": "https://b.fr/1", "canonical_url": "https://b.fr/1",
            "text": "\n".join(rewrite(WIRE))}
    stored: list[int] = []
    with pool.connection() as first, first.transaction():
        held = articles.store(first, wire).article_id  # its transaction still open: not committed
        other = threading.Thread(target=lambda: stored.append(add_with(pool, copy)))
        other.start()
        deadline = time.monotonic() + 30
        while other.is_alive() and not waiting_on_advisory_lock(pool) and time.monotonic() < deadline:
            time.sleep(0.01)
    other.join(30)
    with pool.connection() as conn:
        story = conn.execute("SELECT story_id FROM articles WHERE id = %s", [stored[0]]).fetchone()
    assert story == (held,)


def add_with(pool: ConnectionPool, item: dict[str, str]) -> int:
    with pool.connection() as conn:
        return articles.store(conn, item).article_id


def waiting_on_advisory_lock(pool: ConnectionPool) -> bool:
    with pool.connection() as conn:
        return bool(conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                    .fetchone()[0])


def test_an_archive_signed_by_datasketch_1_is_signed_again_when_upgraded(pool: ConnectionPool, pg_archive: str) -> None:
    from tests.test_minhash import legacy_signature

    first = add(pool, "afp", "Doctrine du cloud souverain", "\n".join(WIRE))
    with pool.connection() as conn:
        conn.execute("UPDATE story_signatures SET signature = %s WHERE article_id = %s",
                     [legacy_signature("\n".join(WIRE), "Doctrine du cloud souverain"), first])
        conn.execute("DELETE FROM _migrations WHERE number = 10")
    with psycopg.connect(pg_archive, autocommit=True) as conn:
        assert postgres.migrate(conn) == [10]
    later = add(pool, "lemonde", "Autre titre", "\n".join(rewrite(WIRE)))
    with pool.connection() as conn:
        assert conn.execute("SELECT story_id FROM articles WHERE id = %s", [later]).fetchone() == (first,)
