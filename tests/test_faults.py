"""Faults of the services veille leans on: Telegram down, the archive locked or its disk full, kill -9."""

import asyncio
import os
import resource
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from werkzeug import Request, Response

from alerts.bot import build_application
from alerts.config import TelegramConfig
from alerts.dispatcher import TelegramSender, dispatch
from storage import outbox
from tests import fakebot
from tests.conftest import VEILLE, Article, Site, distinct_text, recent, rss, run_veille, write_config
from tests.conftest import port as port_of
from tests.fakebot import FakeBotAPI
from tests.outbox_helpers import archive, queue

TOKEN = "123456:TEST-token-never-printed"
STEP = 5  # seconds between two delivery passes of `veille run`


# -- Telegram down for ten minutes ---------------------------------------------------------------------


def take_down(fake: FakeBotAPI) -> int:
    """Close the fake API's socket: connections are refused until `bring_up`. Returns its port."""
    assert fake.server is not None
    port = fake.server.server_address[1]
    fake.server.shutdown()
    fake.server.server_close()
    return port


def bring_up(fake: FakeBotAPI, port: int) -> None:
    fake.server = ThreadingHTTPServer(("127.0.0.1", port), fakebot._handler(fake))
    fake.server.daemon_threads = True
    threading.Thread(target=fake.server.serve_forever, daemon=True).start()


def time_passes(db: sqlite_utils.Database, seconds: float) -> None:
    """Move the archive's clock on: alerts put off are due `seconds` sooner (no real waiting in a test)."""
    with db.atomic():
        for row_id, not_before in db.execute("SELECT id, not_before FROM outbox WHERE not_before IS NOT NULL"
                                             ).fetchall():
            earlier = datetime.fromisoformat(not_before) - timedelta(seconds=seconds)
            db.execute("UPDATE outbox SET not_before = ? WHERE id = ?", [earlier.isoformat(), row_id])


def test_telegram_down_ten_minutes_then_every_alert_arrives_in_order_per_chat(tmp_path: Path,
                                                                               fake_bot: FakeBotAPI) -> None:
    """Connections refused for five minutes, then 502 for five more: every alert arrives, in order per chat."""
    db = archive(tmp_path)
    chats = [1001, 1002]
    for topic in ("a", "b", "c", "d", "e"):
        queue(db, 1, chats, topic=topic)
    expected = {chat: [r[0] for r in db.execute(
        "SELECT topic FROM outbox WHERE chat_id = ? ORDER BY id", [chat])] for chat in chats}
    outage, port = 600, 0

    async def service() -> int:
        config = TelegramConfig(api_url=f"{fake_bot.url}/bot", timeout="1s")  # type: ignore[arg-type]
        bot = build_application(config, TOKEN).bot
        await bot.initialize()
        nonlocal port
        try:
            clock = 0
            while outbox.counts(db)["pending"] and clock < outage + 300 + 4 * STEP:  # back within five minutes
                if clock == 0:
                    port = take_down(fake_bot)
                elif clock == outage // 2:
                    bring_up(fake_bot, port)
                    fake_bot.script["sendMessage"] = [("500", None)] * 1000
                elif clock == outage:
                    fake_bot.script["sendMessage"] = []
                await dispatch(port_of(db), TelegramSender(bot), "Europe/Paris")
                time_passes(db, STEP)
                clock += STEP
            return clock
        finally:
            await bot.shutdown()

    asyncio.run(service())
    assert outbox.counts(db) == {"pending": 0, "sending": 0, "sent": 10, "failed": 0}
    for chat in chats:
        assert len(fake_bot.replies(chat)) == 5, "each alert exactly once"
        order = [r[0] for r in db.execute(
            "SELECT topic FROM outbox WHERE chat_id = ? ORDER BY message_id", [chat])]
        assert order == expected[chat], f"chat {chat} got its alerts out of order: {order}"
    attempts = [r[0] for r in db.execute("SELECT attempts FROM outbox ORDER BY id")]
    assert max(attempts) > 5, "the outage was long enough for many retries"


# -- the archive locked by an analyst ------------------------------------------------------------------


def stories(n: int, first: int = 0) -> list[Article]:
    return [Article(f"cloud-{i}", f"Cloud souverain : épisode {i}", distinct_text(i), recent())
            for i in range(first, first + n)]


class Analyst:
    """Another process's connection to the archive that writes in a long transaction (BEGIN IMMEDIATE)."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self.holding = threading.Event()

    def hold(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute("CREATE TABLE IF NOT EXISTS analyst_notes (note TEXT)")
        self.conn.execute("INSERT INTO analyst_notes VALUES ('relire les articles de la semaine')")
        self.holding.set()

    def release(self) -> None:
        if self.holding.is_set():
            self.conn.execute("COMMIT")
            self.holding.clear()


class Journal:
    """A feed that answers a conditional GET with 304 (as real servers do) and counts its article pages."""

    def __init__(self, site: Site, articles: list[Article], etag: str = '"v1"') -> None:
        self.site, self.articles, self.etag = site, articles, etag
        self.pages_served = 0
        self.on_feed: Callable[[], None] = lambda: None
        self.on_page: Callable[[int], None] = lambda served: None
        site.server.expect_request("/rss.xml").respond_with_handler(self._feed)
        for article in articles:
            site.server.expect_request(f"/articles/{article.slug}").respond_with_handler(self._page(article))

    @property
    def url(self) -> str:
        return self.site.url + "/rss.xml"

    def _feed(self, request: Request) -> Response:
        self.on_feed()
        if request.headers.get("If-None-Match") == self.etag:
            return Response(status=304, headers={"ETag": self.etag})
        return Response(rss(self.site.url, self.articles), content_type="application/rss+xml",
                        headers={"ETag": self.etag})

    def _page(self, article: Article) -> Callable[[Request], Response]:
        from tests.conftest import article_page

        def serve(request: Request) -> Response:
            self.pages_served += 1
            self.on_page(self.pages_served)
            return Response(article_page(article), content_type="text/html; charset=utf-8")

        return serve


def archived(config: Path) -> list[str]:
    """The slugs of the articles in the archive, sorted, each with its full-text row (or a complaint)."""
    db = sqlite3.connect(config.parent / "veille.db")
    try:
        rows = db.execute("SELECT a.canonical_url, (SELECT count(*) FROM articles_fts f WHERE f.rowid = a.id"
                          " AND articles_fts MATCH 'souverain') FROM articles a").fetchall()
    finally:
        db.close()
    assert all(indexed == 1 for _, indexed in rows), f"an article without its full-text row: {rows}"
    return sorted(url.rsplit("/", 1)[-1] for url, _ in rows)


def telegram(fake: FakeBotAPI) -> dict[str, str]:
    return {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": f"{fake.url}/bot"}


def test_a_lock_held_during_a_round_makes_writes_wait_and_everything_is_stored(tmp_path: Path, site: Site,
                                                                              fake_bot: FakeBotAPI) -> None:
    journal = Journal(site, stories(5))
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": journal.url}],
                          [{"name": "cloud", "keywords": ["cloud souverain"], "chats": [1001]}])
    archive(tmp_path).close()  # the archive exists, as it does when an analyst opens it
    analyst = Analyst(tmp_path / "veille.db")

    def lock_for_a_while() -> None:
        analyst.hold()
        threading.Timer(2.0, analyst.release).start()

    journal.on_feed = lock_for_a_while
    result = run_veille("crawl", "--config", str(config), env=telegram(fake_bot))
    analyst.release()
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr.lower(), result.stderr
    assert archived(config) == sorted(a.slug for a in stories(5))
    assert len(fake_bot.replies(1001)) == 5
    assert analyst.conn.execute("SELECT count(*) FROM analyst_notes").fetchone()[0] == 1


def test_a_lock_outlasting_the_timeout_fails_the_round_clearly_and_the_next_stores_all(
        tmp_path: Path, site: Site, fake_bot: FakeBotAPI) -> None:
    journal = Journal(site, stories(5))
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": journal.url}],
                          [{"name": "cloud", "keywords": ["cloud souverain"], "chats": [1001]}],
                          storage={"path": str(tmp_path / "veille.db"), "timeout": "500ms"})
    archive(tmp_path).close()
    analyst = Analyst(tmp_path / "veille.db")
    journal.on_feed = lambda: analyst.holding.is_set() or analyst.hold()
    locked = run_veille("crawl", "--config", str(config), env=telegram(fake_bot))
    analyst.release()
    assert "Traceback" not in locked.stderr
    assert "locked" in locked.stderr
    journal.on_feed = lambda: None
    again = run_veille("crawl", "--config", str(config), env=telegram(fake_bot))
    assert again.returncode == 0, again.stderr
    assert archived(config) == sorted(a.slug for a in stories(5))
    assert len(fake_bot.replies(1001)) == 5


# -- kill -9 in the middle of a round ------------------------------------------------------------------


def start_veille(*args: str, env: dict[str, str], log: Path, limit: int | None = None) -> subprocess.Popen[str]:
    """The real `veille` in the background (under a file-size limit, if given), its stderr in `log`."""

    def limited() -> None:
        if limit is not None:  # Python ignores SIGXFSZ: writes past the limit fail with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")} | env
    with log.open("w") as stderr:
        return subprocess.Popen([*VEILLE, *args], env=full_env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=stderr, text=True, preexec_fn=limited)


def wait_for(condition: Callable[[], Any], what: str, process: subprocess.Popen[str] | None = None,
             seconds: float = 60, extra: Callable[[], str] | None = None) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if process is not None and process.poll() is not None:
            pytest.fail(f"veille exited before {what}" + (f": {extra()}" if extra else ""))
        if time.monotonic() > deadline:
            pytest.fail(f"never saw {what}" + (f": {extra()}" if extra else ""))
        time.sleep(0.05)


@pytest.mark.parametrize("point", ["fetch", "store"])
def test_kill_9_mid_round_then_the_next_run_finishes_the_work(tmp_path: Path, site: Site, fake_bot: FakeBotAPI,
                                                              point: str) -> None:
    """Killed while an article page is in flight, or while articles wait to be written: nothing is lost or
    stored twice, and each alert goes out once (delivery killed mid-way: tests/test_delivery_e2e.py)."""
    journal = Journal(site, stories(5))
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": journal.url}],
                          [{"name": "cloud", "keywords": ["cloud souverain"], "chats": [1001]}])
    archive(tmp_path).close()
    in_flight, release = threading.Event(), threading.Event()
    analyst = Analyst(tmp_path / "veille.db")
    if point == "fetch":
        def hang_on_the_third(served: int) -> None:
            if served == 3:
                in_flight.set()
                release.wait(30)

        journal.on_page = hang_on_the_third
    else:  # the writes of the round wait for a lock: killed with articles fetched, not yet stored
        journal.on_page = lambda served: served == 5 and (analyst.hold(), in_flight.set())
    log = tmp_path / "veille.log"
    crawl = start_veille("crawl", "--config", str(config), env=telegram(fake_bot), log=log)
    try:
        wait_for(in_flight.is_set, f"the round reach {point}", crawl, extra=log.read_text)
        time.sleep(0.5)
        crawl.send_signal(signal.SIGKILL)
        crawl.wait(timeout=10)
    finally:
        crawl.kill()
        release.set()
        analyst.release()
    assert len(archived(config)) < 5, "the kill must land before the round stored everything"

    journal.on_page = lambda served: None
    again = run_veille("crawl", "--config", str(config), env=telegram(fake_bot))
    assert again.returncode == 0, again.stderr
    assert archived(config) == sorted(a.slug for a in stories(5))
    texts = fake_bot.replies(1001)
    assert sorted(a.slug for a in stories(5) for t in texts if f'/articles/{a.slug}"' in t) == \
        sorted(a.slug for a in stories(5)), texts


# -- the disk full -------------------------------------------------------------------------------------


def test_disk_full_is_a_clear_error_with_no_partial_article_and_the_service_recovers(
        tmp_path: Path, site: Site, fake_bot: FakeBotAPI) -> None:
    journal = Journal(site, stories(6))
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": journal.url}],
                          [{"name": "cloud", "keywords": ["cloud souverain"], "chats": [1001]}],
                          crawl={"interval": "2s", "timeout": "5s", "delay": "0s"})
    archive(tmp_path).close()
    log = tmp_path / "veille.log"
    service = start_veille("run", "--config", str(config), env=telegram(fake_bot), log=log, limit=64 * 1024)

    def errors() -> int:
        return log.read_text().count("disk full")

    try:
        wait_for(errors, "a disk-full error", service, extra=log.read_text)
        stored_while_full = archived(config)  # every article stored has its full-text row
        assert len(stored_while_full) < 6
        wait_for(lambda: errors() >= 2, "the service try again", service, extra=log.read_text)
        resource.prlimit(service.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        wait_for(lambda: len(archived(config)) == 6 and len(fake_bot.replies(1001)) == 6,
                 "every article stored and alerted once space is back", service, extra=log.read_text)
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(timeout=30)
        finally:
            service.kill()
    output = log.read_text()
    assert service.returncode == 0, output
    assert "Traceback" not in output
    assert len(fake_bot.replies(1001)) == 6
