"""The storage contract: the port driven as the other rooms drive it, on SQLite and on PostgreSQL alike.

Each test runs once per backend (`archive` below): SQLite in tmp_path, PostgreSQL on the session's own
server (tests/pg_server.py; skipped, saying why, when there is none). The calls are the other rooms' own,
`await archive.write(articles.store, row)` and the like, with storage's SQLite functions: the PostgreSQL
archive runs their counterparts. One end-to-end case runs the real `veille crawl` and `veille search` with
`storage.url` set.
"""

import asyncio
import functools
import importlib
import inspect
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from threading import current_thread
from typing import Any

import psycopg
import pytest

from alerts.config import Topic
from alerts.matcher import match_pending
from storage import Archive, ArchiveBusyError, StorageError, articles, chats, health, matches, outbox, stories, topics
from storage.outbox import Match
from storage.search import known_names, search, search_all
from storage.trends import series
from tests.conftest import SOVEREIGN, UNRELATED, Site, run_veille, search_json, write_config
from tests.fakebot import FakeBotAPI
from tests.test_end_to_end import TOKEN, telegram_env
from tests.test_stories import ABOUT, OTHER, WIRE, release, rewrite

Opener = Callable[..., Archive]

# Every storage function the other rooms run through the port (grep crawler/ alerts/ veille/ for
# archive.read, archive.write, read_now, write_now, iterate_now): each has a PostgreSQL counterpart.
CONTRACT = {
    "articles": ["store", "known", "also_carried"],
    "stories": ["configure"],
    "health": ["record_crawl", "backing_off", "validators", "save_validators", "all_sources"],
    "outbox": ["unmatched", "record_matches", "pending", "claim", "release", "mark_sent", "mark_failed",
               "mark_retry", "release_orphans", "migrations", "record_migration", "deferred_chats",
               "count_sent_since", "sent_since", "other_outlets", "next_due_in", "counts", "failures"],
    "chats": ["subscribe", "unsubscribe", "subscribers", "subscribed_chats", "subscriptions_of", "mute",
              "unmute", "muted_until"],
    "matches": ["latest"],
    "topics": ["record_rules", "running_rule", "articles_since", "find_by_url"],
    "search": ["search", "search_all", "known_names"],
    "trends": ["series"],
}
# Storage functions with no PostgreSQL counterpart yet, which no other room calls: taking apart stories
# merged by an older SQLite archive (a migration's step; a PostgreSQL archive never had them) and reading
# one article back.
GAPS = {"articles.get", "stories.split_wrong_merges"}


def on_a_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """An async test, run on an event loop of its own as the service runs the port."""
    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))
    return run


@pytest.fixture(params=["sqlite", "postgres"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens Archive objects on one fresh archive of the backend, each as a process of its own would."""
    url = request.getfixturevalue("pg_archive") if request.param == "postgres" else None
    opened: list[Archive] = []

    def open_archive(**options: Any) -> Archive:
        opened.append(Archive.open(tmp_path / "veille.db", url=url, **options))
        return opened[-1]

    yield open_archive
    for archive in opened:
        archive.close()


@pytest.fixture
def archive(opener: Opener) -> Archive:
    return opener()


def item(slug: str, title: str, text: str, *, source: str = "journal", hours: float = 1, **more: Any) -> dict[str, Any]:
    url = f"https://example.org/{slug}"
    published = (datetime.now(UTC) - timedelta(hours=hours)).replace(microsecond=0).isoformat()
    return {"source": source, "url": url, "canonical_url": url, "title": title, "text": text,
            "published": published, "language": "fr", "full_text": True, **more}


CLOUD = item("cloud", "Le cloud souverain de l'État", "Les offres SecNumCloud deviennent la règle.", guid="g-1")
GAIA = item("gaia", "Gaïa-X avance", "Le projet européen Gaia-X publie ses labels de confiance.", hours=2)
FOOT = item("foot", "Le cloud souverain du football", "Les clubs de football et leur cloud souverain.", hours=3)
WIRE_TOPIC = Topic(name="cloud", keywords=["cloud souverain"], chats=[-1001])
ABOUT_TOPIC = Topic(name="secnumcloud", keywords=["SecNumCloud"], chats=[-1001])
FIBRE = item("fibre", "La fibre dans le Cantal", "Le déploiement de la fibre optique se poursuit.", hours=4)


async def queue_alerts(archive: Archive, chats_of: list[int]) -> int:
    """Store CLOUD and match it as the matcher does; how many alerts were queued."""
    await archive.write(articles.store, CLOUD)
    queued = 0
    for article in await archive.read(outbox.unmatched):
        found = [Match("cloud-souverain", ["cloud souverain"], chats_of)] if article["title"] == CLOUD["title"] else []
        queued += await archive.write(outbox.record_matches, article, found, alert=True)
    return queued


def test_every_function_the_other_rooms_call_has_a_postgres_counterpart() -> None:
    from storage.postgres.archive import counterpart

    for module, names in CONTRACT.items():
        for name in names:
            function = getattr(importlib.import_module(f"storage.{module}"), name)
            assert counterpart(function).__module__ == f"storage.postgres.{module}", f"{module}.{name}"


def test_the_gaps_are_the_ones_listed_and_each_is_a_loud_error() -> None:
    from storage.postgres.archive import counterpart

    missing = set()
    for module in CONTRACT:
        loaded = importlib.import_module(f"storage.{module}")
        for name, function in inspect.getmembers(loaded, inspect.isfunction):
            if function.__module__ != loaded.__name__ or name.startswith("_"):
                continue
            if next(iter(inspect.signature(function).parameters), None) != "db":
                continue
            try:
                counterpart(function)
            except StorageError as exc:
                assert f"storage.{module}.{name} has no PostgreSQL counterpart" in str(exc)
                missing.add(f"{module}.{name}")
    assert missing == GAPS


def test_a_function_without_counterpart_fails_on_postgres_naming_it(pg_archive: str, tmp_path: Path) -> None:
    with Archive.open(tmp_path / "unused.db", url=pg_archive) as archive, pytest.raises(StorageError) as error:
        archive.write_now(stories.split_wrong_merges)
    assert str(error.value).startswith("storage.stories.split_wrong_merges has no PostgreSQL counterpart")
    assert not (tmp_path / "unused.db").exists(), "storage.url set: no SQLite file is made"


@on_a_loop
async def test_an_article_is_stored_once_and_known_by_url_and_guid(archive: Archive) -> None:
    first = await archive.write(articles.store, CLOUD)
    again = await archive.write(articles.store, {**CLOUD, "source": "other", "url": CLOUD["url"] + "?utm=x"})
    assert first.new and not again.new and again.article_id == first.article_id
    held = await archive.read(articles.known, "journal", [CLOUD["url"], GAIA["url"]], ["g-1", "g-2"])
    assert held == {CLOUD["url"], "g-1"}
    assert await archive.read(articles.known, "other", [], ["g-1"]) == set(), "a GUID is known within its source"
    assert await archive.write(articles.also_carried, "third", {CLOUD["url"]: "https://third.example/x"}) == 1
    assert await archive.write(articles.also_carried, "third", {CLOUD["url"]: "https://third.example/x"}) == 0
    assert (await archive.read(known_names))[0] == {"journal", "other", "third"}
    found = await archive.read(topics.find_by_url, "https://third.example/x")
    assert found is not None and found["id"] == first.article_id and found["title"] == CLOUD["title"]


@on_a_loop
async def test_an_article_come_back_with_a_new_title_is_updated_and_not_alerted_again(archive: Archive) -> None:
    await queue_alerts(archive, [-1001])
    fixed = {**CLOUD, "title": "Le cloud souverain de l'État, la doctrine corrigée"}
    stored = await archive.write(articles.store, fixed)
    assert (stored.new, stored.updated) == (False, True)
    assert not (await archive.write(articles.store, fixed)).updated, "nothing new the second time"
    assert await archive.read(outbox.unmatched) == [], "it keeps its matched state"
    assert [hit["title"] for hit in await archive.read(search, "corrigée")] == [fixed["title"]]
    copy = {**CLOUD, "url": "https://elsewhere.example/x", "canonical_url": "https://elsewhere.example/x",
            "guid": None, "title": "Another title", "text": CLOUD["text"] * 10}
    await archive.write(articles.store, copy)
    assert not (await archive.write(articles.store, {**copy, "canonical_url": "https://third.example/y",
                                                      "url": "https://third.example/y", "title": "Third"})).updated, \
        "the same text elsewhere is a copy, not an update"


@on_a_loop
async def test_the_matcher_queues_each_alert_once(archive: Archive) -> None:
    assert await queue_alerts(archive, [-1001, -1002]) == 2
    assert await archive.read(outbox.unmatched) == [], "a matched article is not matched again"
    article = (await archive.read(topics.find_by_url, CLOUD["url"]))
    assert article is not None
    again = await archive.write(outbox.record_matches, article, [Match("cloud-souverain", ["x"], [-1001])],
                                alert=True)
    assert again == 0, "a story queued for a topic and chat is never queued twice"
    assert (await archive.read(outbox.counts))["pending"] == 2


@on_a_loop
async def test_a_claim_is_exclusive_across_two_archive_objects(opener: Opener) -> None:
    one, two = opener(), opener()
    await queue_alerts(one, [-1001])
    ids = [alert.id for alert in await two.read(outbox.pending)]
    assert len(ids) == 1
    assert await one.write(outbox.claim, ids)
    assert not await two.write(outbox.claim, ids), "only the holder of a claim sends"
    await one.write(outbox.release, ids)
    assert await two.write(outbox.claim, ids)
    assert (await one.read(outbox.counts))["sending"] == 1


@on_a_loop
async def test_pending_sent_retried_and_failed_alerts(archive: Archive) -> None:
    await queue_alerts(archive, [-1001, -1002, -1003])
    due = await archive.read(outbox.pending)
    assert [(a.chat_id, a.title, a.terms, a.source) for a in due] == [
        (chat, CLOUD["title"], ("cloud souverain",), "journal") for chat in (-1001, -1002, -1003)]
    assert due[0].url == CLOUD["url"] and due[0].published == CLOUD["published"]
    assert [a.id for a in await archive.read(outbox.pending, after_id=due[0].id)] == [due[1].id, due[2].id]
    sent, retried, failed = due
    since = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0).isoformat()
    await archive.write(outbox.mark_sent, [sent.id], 42)
    later = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0).isoformat()
    await archive.write(outbox.mark_retry, [retried.id], "429 too many requests", later)
    await archive.write(outbox.mark_failed, [failed.id], "chat not found")
    assert await archive.read(outbox.pending) == [], "a retry waits for its time"
    assert await archive.read(outbox.deferred_chats) == {-1002}
    wait = await archive.read(outbox.next_due_in)
    assert wait is not None and 0 < wait <= 3600
    assert await archive.read(outbox.count_sent_since, -1001, since) == 1
    assert len(await archive.read(outbox.sent_since, -1001, since, "alert")) == 1
    assert await archive.read(outbox.counts) == {"pending": 1, "sending": 0, "sent": 1, "failed": 1}
    assert [(f["chat_id"], f["last_error"], f["title"]) for f in await archive.read(outbox.failures)] == [
        (-1003, "chat not found", CLOUD["title"])]
    assert not await archive.write(outbox.claim, [sent.id]), "a sent alert is never claimed again"


@on_a_loop
async def test_a_muted_chat_waits_and_a_migrated_chat_is_remembered(archive: Archive) -> None:
    await queue_alerts(archive, [-1001, -1002])
    await archive.write(chats.mute, -1001, datetime.now(UTC) + timedelta(hours=1))
    assert [a.chat_id for a in await archive.read(outbox.pending)] == [-1002]
    assert await archive.read(chats.muted_until, -1001) is not None
    await archive.write(chats.mute, -1002, datetime.now(UTC) - timedelta(minutes=1))
    assert await archive.read(chats.muted_until, -1002) is None, "a mute that ended holds nothing"
    await archive.write(chats.unmute, -1001)
    assert await archive.read(chats.muted_until, -1001) is None
    assert len(await archive.read(outbox.pending)) == 2
    await archive.write(outbox.record_migration, -1001, -1009)
    assert await archive.read(outbox.migrations) == {-1001: -1009}


@on_a_loop
async def test_subscriptions_from_telegram(archive: Archive) -> None:
    assert await archive.write(chats.subscribe, 7, "cloud-souverain")
    assert not await archive.write(chats.subscribe, 7, "cloud-souverain")
    await archive.write(chats.subscribe, 8, "gaia-x")
    assert await archive.read(chats.subscribers) == {"cloud-souverain": {7}, "gaia-x": {8}}
    assert await archive.read(chats.subscriptions_of, 7) == {"cloud-souverain"}
    assert await archive.write(chats.unsubscribe, 8, "gaia-x")
    assert not await archive.write(chats.unsubscribe, 8, "gaia-x")
    assert await archive.read(chats.subscribed_chats) == {7}


@on_a_loop
async def test_a_failing_source_backs_off_and_a_success_resets_it(archive: Archive) -> None:
    hour = timedelta(hours=1)
    await archive.write(health.record_crawl, "journal", error="HTTP 503", seen=0, new=0, interval=hour,
                        ceiling=timedelta(days=1))
    await archive.write(health.record_crawl, "journal", error="HTTP 503", seen=0, new=0, interval=hour,
                        ceiling=timedelta(days=1))
    until = await archive.read(health.backing_off, "journal")
    assert until is not None and datetime.fromisoformat(until) > datetime.now(UTC) + hour, "twice as long"
    assert await archive.read(health.backing_off, "journal", timedelta(days=1)) is None, "within the slack"
    row = (await archive.read(health.all_sources))["journal"]
    assert (row["consecutive_failures"], row["last_error"], row["last_success"]) == (2, "HTTP 503", None)
    await archive.write(health.record_crawl, "journal", error=None, seen=5, new=2)
    assert await archive.read(health.backing_off, "journal") is None
    row = (await archive.read(health.all_sources))["journal"]
    assert (row["consecutive_failures"], row["last_error"], row["items_new"]) == (0, None, 2)
    datetime.fromisoformat(row["last_success"])
    await archive.write(health.save_validators, "journal", '"abc"', None)
    assert await archive.read(health.validators, "journal") == {"etag": '"abc"'}
    assert await archive.read(health.validators, "unknown") == {}


SEARCHES = {
    "cloud souverain": {"cloud", "foot"},
    "cloud souverain NOT football": {"cloud"},
    "SecNumCloud OR Gaia-X": {"cloud", "gaia"},
    '"labels de confiance"': {"gaia"},
    "fibre AND optique": {"fibre"},
    "clouds souverains": {"cloud", "foot"},
}


@on_a_loop
async def test_searches_find_the_same_articles_on_both(archive: Archive) -> None:
    for row in (CLOUD, GAIA, FOOT, FIBRE):
        await archive.write(articles.store, row)
    for query, slugs in SEARCHES.items():
        hits = archive.read_now(search, query, all_copies=True)
        assert {hit["url"].rsplit("/", 1)[1] for hit in hits} == slugs, query
        assert {hit["url"] for hit in archive.iterate_now(search_all, query)} == {
            f"https://example.org/{slug}" for slug in slugs}, query
    newest = archive.read_now(search, "cloud souverain", sort="date")
    assert [hit["title"] for hit in newest] == [CLOUD["title"], FOOT["title"]]
    assert newest[0]["outlets"] == 1 and "[" in newest[1]["snippet"], "a hit in the text is marked"
    assert [hit["title"] for hit in archive.read_now(search, "cloud", source="nowhere")] == []


@on_a_loop
async def test_latest_trends_rules_and_scans(archive: Archive) -> None:
    await queue_alerts(archive, [-1001])
    latest = await archive.read(matches.latest)
    assert [(row["title"], row["topics"]) for row in latest] == [(CLOUD["title"], "cloud-souverain")]
    assert latest[0]["published"] == CLOUD["published"]
    trend = await archive.read(series, ["cloud-souverain", "gaia-x"], by="day")
    assert list(trend["cloud-souverain"].values()) == [1] and list(trend["gaia-x"].values()) == [0]
    await archive.write(topics.record_rules, {"cloud-souverain": '{"any": ["cloud"]}'})
    rule = await archive.read(topics.running_rule, "cloud-souverain")
    assert rule is not None and rule["rule"] == '{"any": ["cloud"]}' and len(rule["fingerprint"]) == 12
    await archive.write(topics.record_rules, {"cloud-souverain": '{"any": ["cloud", "nuage"]}'})
    changed = await archive.read(topics.running_rule, "cloud-souverain")
    assert changed is not None and changed["fingerprint"] != rule["fingerprint"] and "nuage" in changed["rule"]
    assert await archive.read(topics.running_rule, "gaia-x") is None
    await archive.write(articles.store, GAIA)
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert [a["title"] for a in archive.iterate_now(topics.articles_since, since, batch=1)] == [
        CLOUD["title"], GAIA["title"]]
    assert await archive.read(outbox.other_outlets, 1, 1, "journal") == []
    assert await archive.write(stories.configure, 0.7) in (True, False)


async def story_of(archive: Archive, row: dict[str, Any]) -> int:
    """Store `row` through the port; the id of the story it joined."""
    await archive.write(articles.store, row)
    found = await archive.read(topics.find_by_url, row["url"])
    assert found is not None
    return int(found["story_id"])


def wire_item(site: str, title: str, paragraphs: list[str]) -> dict[str, Any]:
    return item(f"{site}-wire", title, "\n".join(paragraphs), source=site)


@on_a_loop
async def test_a_wire_story_and_its_retitled_copy_are_one_story_and_one_alert(archive: Archive) -> None:
    first = await story_of(archive, wire_item("afp", "Doctrine du cloud souverain", WIRE))
    copy = await story_of(archive, wire_item("lemonde", "Cloud : l'État durcit le ton", rewrite(WIRE)))
    other = await story_of(archive, wire_item("lyon", "Doctrine du cloud souverain", OTHER))
    assert copy == first and other != first
    assert await archive.read(stories.outlets, first) == ["afp", "lemonde"]
    assert [m["source"] for m in await archive.read(stories.members, first)] == ["afp", "lemonde"]
    assert await match_pending(archive, [WIRE_TOPIC], timedelta(days=2)) == 2, "one alert per story"


@on_a_loop
async def test_press_releases_sharing_an_about_us_are_separate_stories(archive: Archive) -> None:
    found = [await story_of(archive, item(f"cp{n}", f"Nuagia annonce {subject}", "\n".join(release(n, "")[1]),
                                          source=f"site{n}"))
             for n, subject in enumerate(["un contrat", "une levée de fonds", "un rachat", "un partenariat"])]
    assert len(set(found)) == 4
    # titled alike: only the About-us, learnt as boilerplate and left out, tells them apart
    alike = [await story_of(archive, item(f"alike{n}", "Communiqué de presse", "\n".join(release(n, "")[1])))
             for n in (10, 11)]
    assert alike[0] != alike[1]


@on_a_loop
async def test_a_keyword_only_in_boilerplate_alerts_on_no_release(archive: Archive) -> None:
    for n in range(4):
        await archive.write(articles.store, item(f"nuage{n}", f"Communiqué {n}", "\n".join(release(n, "")[1])))
    own = "Nuagia obtient le renouvellement de sa qualification SecNumCloud pour trois ans."
    await archive.write(articles.store, item("nuage-own", "Communiqué 4", "\n".join([*release(4, "")[1], own])))
    assert await match_pending(archive, [ABOUT_TOPIC], timedelta(days=2)) == 1, "only the release about it"
    [alert] = await archive.read(outbox.pending)
    assert alert.url.endswith("nuage-own") and own in alert.text and ABOUT not in alert.text
    held = await archive.read(topics.find_by_url, "https://example.org/nuage0")
    assert held is not None and ABOUT in held["text"] and ABOUT not in held["matching_text"]


def test_postgres_calls_run_on_the_archive_threads(pg_archive: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import storage.postgres.health as pg_health

    threads: list[str] = []
    monkeypatch.setattr(pg_health, "validators", lambda conn, source: threads.append(current_thread().name) or {})
    monkeypatch.setattr(pg_health, "save_validators", lambda conn, *args: threads.append(current_thread().name))

    async def crawl_step(archive: Archive) -> None:
        await archive.read(health.validators, "journal")
        await archive.write(health.save_validators, "journal", None, None)

    with Archive.open(tmp_path / "unused.db", url=pg_archive) as archive:
        asyncio.run(crawl_step(archive))
    assert [name.rsplit("_", 1)[0] for name in threads] == ["archive-read", "archive-write"]


def test_a_write_waiting_on_a_lock_holds_up_neither_the_loop_nor_reads(pg_archive: str, tmp_path: Path) -> None:
    async def meanwhile(archive: Archive, analyst: psycopg.Connection) -> None:
        waiting = asyncio.create_task(archive.write(health.record_crawl, "journal", error=None, seen=1, new=1))
        while not waiting.done() and analyst.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database()").fetchone() != (1,):
            await asyncio.sleep(0.01)  # a poll of what the server says, the loop free meanwhile
        assert not waiting.done(), "the write waits for the analyst's lock"
        assert "journal" in await archive.read(health.all_sources), "a read is answered while the write waits"
        assert not waiting.done()
        analyst.rollback()
        await waiting

    with Archive.open(tmp_path / "unused.db", url=pg_archive) as archive, psycopg.connect(pg_archive) as analyst:
        archive.write_now(health.record_crawl, "journal", error=None, seen=1, new=1)
        analyst.execute("SELECT * FROM sources WHERE name = 'journal' FOR UPDATE")
        asyncio.run(meanwhile(archive, analyst))
        assert archive.read_now(health.all_sources)["journal"]["items_seen"] == 2


def test_a_lock_held_past_storage_timeout_is_archive_busy(pg_archive: str, tmp_path: Path) -> None:
    with Archive.open(tmp_path / "unused.db", url=pg_archive, timeout=0.2) as archive:
        archive.write_now(health.record_crawl, "journal", error=None, seen=1, new=1)
        with psycopg.connect(pg_archive) as analyst:  # an analyst's open transaction, holding the row
            analyst.execute("SELECT * FROM sources WHERE name = 'journal' FOR UPDATE")
            with pytest.raises(ArchiveBusyError) as error:
                archive.write_now(health.record_crawl, "journal", error=None, seen=1, new=1)
    assert "\n" not in str(error.value)


def test_a_password_is_never_shown(tmp_path: Path) -> None:
    with pytest.raises(StorageError) as error:
        Archive.open(tmp_path / "unused.db", url=f"postgresql://veille:s3cret@/veille?host={tmp_path}", timeout=2)
    assert "s3cret" not in str(error.value) and "veille:***@" in str(error.value)


def test_veille_crawl_alerts_once_and_search_finds_it_on_postgres(tmp_path: Path, site: Site, fake_bot: FakeBotAPI,
                                                                  pg_archive: str) -> None:
    feed = site.feed("/rss.xml", [SOVEREIGN, UNRELATED])
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": feed}], storage={"url": pg_archive})
    for _ in range(2):
        crawl = run_veille("crawl", "--config", str(config), env=telegram_env(fake_bot))
        assert crawl.returncode == 0, crawl.stderr
        assert TOKEN not in crawl.stdout + crawl.stderr
        assert f"archive {pg_archive};" in crawl.stderr, "the banner names the archive used"
    assert len(fake_bot.sent()) == 1, "one alert, once: a second crawl finds nothing new"
    assert [hit["title"] for hit in search_json(config, "SecNumCloud")] == [SOVEREIGN.title]
    with psycopg.connect(pg_archive) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (2,)
    assert not (tmp_path / "veille.db").exists(), "nothing was written to SQLite"


def test_veille_serve_on_postgres_says_datasette_reads_sqlite_only(tmp_path: Path) -> None:
    (tmp_path / "a-file").touch()  # were the SQLite archive opened, it would fail here, with exit status 1
    config = write_config(tmp_path / "config.yaml", [], storage={"url": "postgresql://veille@db.example/veille",
                                                                 "path": str(tmp_path / "a-file" / "veille.db")})
    served = run_veille("serve", "--config", str(config))
    assert served.returncode == 2
    assert served.stderr.count("\n") == 1 and "Datasette" in served.stderr and "SQLite only" in served.stderr


def test_the_banner_and_config_check_show_the_url_without_its_password(tmp_path: Path) -> None:
    from veille.config import parse
    from veille.progress import banner

    config = parse({"storage": {"url": "postgresql://veille:s3cret@db.example/veille"}}, tmp_path / "config.yaml")
    assert "archive postgresql://veille:***@db.example/veille;" in banner(config, "crawl")
    path = write_config(tmp_path / "config.yaml", [], storage={"url": "postgresql://veille:s3cret@db.example/veille"})
    checked = run_veille("config", "check", "--config", str(path))
    assert "archive: postgresql://veille:***@db.example/veille" in checked.stdout and "s3cret" not in checked.stdout


def test_a_bad_storage_url_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    from veille.config import ConfigError, parse

    with pytest.raises(ConfigError) as error:
        parse({"storage": {"url": "mysql://veille:s3cret@db/veille"}}, tmp_path / "config.yaml")
    assert error.value.problems == ["storage.url: 'mysql://veille:***@db/veille' is not a PostgreSQL URL:"
                                    " write postgresql://user@host:port/database"]


