"""Storage as a port: the Archive runs storage's functions off the event loop (one writer thread, a pool of
readers) and raises storage's own errors; an analyst's long write lock holds up no one but the writes.

The end-to-end case runs the real `veille run`: while another process holds the archive's write lock for
longer than a round, the bot still answers /help and the next round's fetches still go out; once the lock is
released, everything fetched is stored and alerted. Asserted by the order of events, not by time.
"""

import ast
import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest
from werkzeug import Request, Response

from storage import Archive, ArchiveBusyError, ArchiveUnreadableError, StorageError, chats, health
from tests import fakebot
from tests.conftest import VEILLE, Site, article_page, rss, write_config
from tests.fakebot import FakeBotAPI
from tests.test_faults import Analyst, stories, wait_for

TOKEN = "123456:TEST-token-never-printed"
WATCHER = 77


def test_a_write_is_read_back_at_once_from_the_pool(tmp_path: Path) -> None:
    with Archive.open(tmp_path / "veille.db") as archive:
        async def go() -> set[int]:
            await archive.write(chats.subscribe, 42, "cloud")
            return await archive.read(chats.subscribed_chats)

        assert asyncio.run(go()) == {42}
        assert archive.read_now(chats.subscriptions_of, 42) == {"cloud"}


def test_writes_run_on_one_thread_and_reads_elsewhere(tmp_path: Path) -> None:
    with Archive.open(tmp_path / "veille.db") as archive:
        writers = {archive.write_now(lambda db: threading.current_thread().name) for _ in range(5)}
        reader = archive.read_now(lambda db: threading.current_thread().name)
    assert len(writers) == 1 and writers.pop().startswith("archive-write")
    assert reader.startswith("archive-read")


def _held_then_queued(archive: Archive, writes: list, commits: list[str]) -> list:
    """Hold the writer on a first write, queue `writes` behind it, let it go; the futures of the writes."""
    archive.write_now(lambda db: db.conn.set_trace_callback(
        lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None))
    archive.write_now(lambda db: db.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER UNIQUE)"))
    go = threading.Event()
    blocker = archive._submit_write(lambda db: go.wait(10))
    futures = [archive._submit_write(write) for write in writes]
    commits.clear()
    go.set()
    blocker.result()
    return futures


def test_writes_queued_together_are_committed_together(tmp_path: Path) -> None:
    commits: list[str] = []
    with Archive.open(tmp_path / "veille.db") as archive:
        futures = _held_then_queued(archive, [
            lambda db, n=n: db.execute("INSERT INTO t VALUES (?)", [n]).lastrowid for n in range(10)], commits)
        assert [f.result() for f in futures] == list(range(1, 11))
        assert archive.read_now(lambda db: db.execute("SELECT count(*) FROM t").fetchone()[0]) == 10
    assert len(commits) <= 2, "the held write's commit, and one for the ten queued behind it"


def test_a_failing_write_among_queued_ones_fails_alone(tmp_path: Path) -> None:
    commits: list[str] = []

    def broken(db: object) -> None:
        raise ValueError("a write that fails")

    with Archive.open(tmp_path / "veille.db") as archive:
        writes = [lambda db, n=n: db.execute("INSERT INTO t VALUES (?)", [n]).lastrowid for n in range(3)]
        futures = _held_then_queued(archive, [*writes[:2], broken,
                                              lambda db: db.execute("INSERT INTO t VALUES (0)"), writes[2]], commits)
        assert futures[0].result() and futures[1].result() and futures[4].result()
        with pytest.raises(ValueError, match="a write that fails"):
            futures[2].result()
        with pytest.raises(StorageError):  # UNIQUE: the first write's 0, committed before it
            futures[3].result()
        assert archive.read_now(lambda db: [r[0] for r in db.execute("SELECT n FROM t ORDER BY n")]) == [0, 1, 2]


def test_a_lock_held_past_the_timeout_is_storage_s_busy_error(tmp_path: Path) -> None:
    with Archive.open(tmp_path / "veille.db", timeout=0.2) as archive:
        analyst = Analyst(tmp_path / "veille.db")
        analyst.hold()
        try:
            with pytest.raises(ArchiveBusyError, match="locked by another process past storage"):
                archive.write_now(chats.subscribe, 42, "cloud")
            assert archive.read_now(chats.subscribed_chats) == set(), "reads go on while another process writes"
        finally:
            analyst.release()
        assert archive.write_now(chats.subscribe, 42, "cloud"), "the failed write was rolled back, not left open"


def test_a_file_that_is_not_an_archive_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "veille.db"
    path.write_bytes(b"these are my notes, not a database" * 200)
    with pytest.raises(StorageError, match="cannot open the archive"):
        Archive.open(path)
    with Archive.open(path, readonly=True) as archive, pytest.raises(ArchiveUnreadableError, match="backup"):
        archive.read_now(health.all_sources)


def test_a_read_only_archive_refuses_writes_and_a_closed_one_everything(tmp_path: Path) -> None:
    Archive.open(tmp_path / "veille.db").close()
    archive = Archive.open(tmp_path / "veille.db", readonly=True)
    assert archive.read_now(health.all_sources) == {}
    with pytest.raises(StorageError, match="read-only"):
        archive.write_now(chats.subscribe, 42, "cloud")
    archive.close()
    with pytest.raises(StorageError, match="closed"):
        archive.read_now(health.all_sources)


def test_an_in_memory_archive_reads_on_its_writer() -> None:
    with Archive.open(":memory:") as archive:
        archive.write_now(chats.subscribe, 7, "ia")
        assert archive.read_now(chats.subscribed_chats) == {7}


def test_no_room_but_storage_imports_sqlite() -> None:
    root = Path(__file__).parent.parent
    offenders = []
    for room in ("crawler", "alerts", "veille"):
        for path in sorted((root / room).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("sqlite3", "sqlite_utils")]
    assert offenders == [], "only storage/ knows the archive is SQLite"


class Newsroom:
    """A feed whose later stories appear on demand, its article pages logging each fetch."""

    def __init__(self, site: Site, events: list[str]) -> None:
        self.site, self.events = site, events
        self.all = stories(4)
        self.published = self.all[:2]
        site.server.expect_request("/rss.xml").respond_with_handler(self._feed)
        for article in self.all:
            site.server.expect_request(f"/articles/{article.slug}").respond_with_handler(self._page(article.slug))

    def _feed(self, request: Request) -> Response:
        return Response(rss(self.site.url, self.published), content_type="application/rss+xml")

    def _page(self, slug: str):  # type: ignore[no-untyped-def]
        def serve(request: Request) -> Response:
            self.events.append(f"fetched {slug}")
            article = next(a for a in self.all if a.slug == slug)
            return Response(article_page(article), content_type="text/html; charset=utf-8")
        return serve


def sent(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path, timeout=1)) as db:
        return int(db.execute("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL").fetchone()[0])


def test_a_long_write_lock_holds_up_neither_the_bot_nor_the_crawl(tmp_path: Path, site: Site,
                                                                   fake_bot: FakeBotAPI) -> None:
    events: list[str] = []
    newsroom = Newsroom(site, events)
    config = write_config(tmp_path / "config.yaml",
                          [{"name": "journal", "feed": f"{site.url}/rss.xml", "interval": "2s"}],
                          [{"name": "cloud", "keywords": ["cloud souverain"], "chats": [WATCHER]}],
                          storage={"path": str(tmp_path / "veille.db"), "timeout": "10m"},
                          telegram={"allowed_chats": [WATCHER]})
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env |= {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": f"{fake_bot.url}/bot"}
    alerts = lambda: [r for r in fake_bot.replies(WATCHER) if "épisode" in r]  # noqa: E731
    service = subprocess.Popen([*VEILLE, "run", "--config", str(config)], env=env, text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    analyst = None
    try:
        wait_for(lambda: len(alerts()) == 2, "the first round's two alerts", service)
        # and recorded as sent: a lock taken between a send and its record would hold that round's job, and
        # with it the source's next rounds (max_instances=1), for as long as the lock lasts
        wait_for(lambda: sent(tmp_path / "veille.db") == 2, "the first round's two alerts recorded as sent", service)
        analyst = Analyst(tmp_path / "veille.db")
        analyst.hold()
        events.append("lock taken")
        newsroom.published = newsroom.all  # the next rounds find two new stories, to be stored behind the lock
        fake_bot.push(fakebot.message("/help", WATCHER))
        answered = lambda: any("/subscribe" in r for r in fake_bot.replies(WATCHER))  # noqa: E731
        fetched = lambda: all(f"fetched {a.slug}" in events for a in newsroom.all[2:])  # noqa: E731
        wait_for(lambda: answered() and fetched(), "the bot's answer and the new pages fetched while the lock is held",
                 service)
        events.append("bot answered")
        held_alerts = len(alerts())
        analyst.release()
        events.append("lock released")
        wait_for(lambda: len(alerts()) == 4, "the two new stories alerted once the lock is gone", service)
        service.send_signal(signal.SIGTERM)
        _, err = service.communicate(timeout=60)
    finally:
        if analyst is not None:
            analyst.release()
        service.kill()
    assert service.returncode == 0, err
    released = events.index("lock released")
    for article in newsroom.all[2:]:
        assert events.index(f"fetched {article.slug}") < released, events
    assert held_alerts == 2, "nothing stored behind the lock was alerted before it was released"
    assert len(alerts()) == 4, "each story alerted once"
    assert "Traceback" not in err
    rows = sqlite3.connect(tmp_path / "veille.db").execute("SELECT count(*) FROM articles").fetchone()
    assert rows == (4,)
