"""Stopping `veille run` keeps its word: SIGTERM lets the running crawl and the message in flight finish
within --grace, nothing is lost or repeated; a crawl cut short saves no validators, so the next crawl
reads the whole feed again; a second signal stops at once."""

import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import Article, Site, article_page, distinct_text, recent, rss, run_veille, write_config
from tests.fakebot import FakeBotAPI
from tests.test_service import RunningService, service_env  # noqa: F401  (a fixture)

TOPIC = {"name": "cloud", "keywords": ["cloud souverain"], "chats": [1001]}


def story(i: int, slug: str = "cloud") -> Article:
    return Article(f"{slug}-{i}", f"Cloud souverain : épisode {i}", distinct_text(i), recent(1))


class SlowSite:
    """A feed with an ETag (304 when it is sent back) whose last article's page answers after `delay`."""

    def __init__(self, server: HTTPServer, articles: list[Article], delay: float) -> None:
        self.site, self.articles, self.delay = Site(server), articles, delay
        self.slow_started = threading.Event()
        server.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
        server.expect_request("/slow.xml").respond_with_handler(self._feed)
        for a in articles[:-1]:
            self.site.page(f"/articles/{a.slug}", article_page(a))
        server.expect_request(f"/articles/{articles[-1].slug}").respond_with_handler(self._slow_page)
        self.url = self.site.url + "/slow.xml"

    def _feed(self, request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304)
        return Response(rss(self.site.url, self.articles), content_type="application/rss+xml",
                        headers={"ETag": '"v1"'})

    def _slow_page(self, request: Request) -> Response:
        self.slow_started.set()
        deadline = time.monotonic() + self.delay
        while time.monotonic() < deadline:
            time.sleep(0.05)
        return Response(article_page(self.articles[-1]), content_type="text/html; charset=utf-8")


@pytest.fixture
def threaded() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


def stored(config: Path) -> set[str]:
    with sqlite3.connect(config.parent / "veille.db") as db:
        return {row[0].rsplit("/", 1)[-1].split("?")[0] for row in db.execute("SELECT url FROM articles")}


def etag(config: Path, source: str) -> str | None:
    with sqlite3.connect(config.parent / "veille.db") as db:
        row = db.execute("SELECT etag FROM sources WHERE name = ?", [source]).fetchone()
    return row[0] if row else None


def alerted(fake: FakeBotAPI) -> list[str]:
    return [c.params["text"].split("</a>")[0].rsplit(">", 1)[-1] for c in fake.sent()]


def test_sigterm_lets_the_crawl_and_the_send_in_flight_finish(tmp_path: Path, site: Site, threaded: HTTPServer,
                                                              fake_bot: FakeBotAPI,
                                                              service_env: dict[str, str]) -> None:  # noqa: F811
    news = [story(i) for i in range(6)]
    slow = SlowSite(threaded, [story(i, "lent") for i in range(10, 15)], delay=3)
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": site.feed("/rss.xml", news)},
                                                     {"name": "lent", "feed": slow.url}], [TOPIC])
    fake_bot.delay = 1.0  # Telegram accepting slowly: the signal lands while a message is in flight
    service = RunningService(config, service_env, "--grace", "20")
    try:
        service.wait_for(lambda: len(fake_bot.sent()) >= 1 and slow.slow_started.is_set())
        _, err = service.stop(signal.SIGTERM)
    finally:
        service.process.kill()
    assert service.process.returncode == 0, err
    assert {a.slug for a in slow.articles} <= stored(config), "the running crawl finished: all five stored"
    assert etag(config, "lent") == '"v1"'
    fake_bot.delay = 0
    again = run_veille("crawl", "--config", str(config), env=service_env)
    assert again.returncode == 0, again.stderr
    titles = alerted(fake_bot)
    assert sorted(titles) == sorted({a.title for a in [*news, *slow.articles]}), "each alert once, none lost"


def test_a_crawl_cut_after_the_grace_period_saves_no_validators(tmp_path: Path, threaded: HTTPServer,
                                                               fake_bot: FakeBotAPI,
                                                               service_env: dict[str, str]) -> None:  # noqa: F811
    slow = SlowSite(threaded, [story(i, "lent") for i in range(5)], delay=60)
    config = write_config(tmp_path / "config.yaml", [{"name": "lent", "feed": slow.url}], [TOPIC])
    service = RunningService(config, service_env, "--grace", "1")
    try:
        service.wait_for(slow.slow_started.is_set)
        _, err = service.stop(signal.SIGTERM)
    finally:
        service.process.kill()
    assert service.process.returncode == 0, err
    assert "cut short" in err
    assert etag(config, "lent") is None, "a cut crawl does not say the feed was read"
    slow.delay = 0
    again = run_veille("crawl", "--config", str(config), env=service_env)
    assert again.returncode == 0, again.stderr
    assert {a.slug for a in slow.articles} <= stored(config), again.stderr
    assert sorted(alerted(fake_bot)) == sorted(a.title for a in slow.articles)


def test_a_second_signal_stops_at_once(tmp_path: Path, threaded: HTTPServer, fake_bot: FakeBotAPI,
                                       service_env: dict[str, str]) -> None:  # noqa: F811
    slow = SlowSite(threaded, [story(i, "lent") for i in range(2)], delay=60)
    config = write_config(tmp_path / "config.yaml", [{"name": "lent", "feed": slow.url}], [TOPIC])
    service = RunningService(config, service_env, "--grace", "120")
    try:
        service.wait_for(slow.slow_started.is_set)
        service.process.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert service.process.poll() is None, "the first signal waits for the crawl"
        _, err = service.stop(signal.SIGTERM, timeout=30)
    finally:
        service.process.kill()
    assert service.process.returncode == 0, err
    assert "second signal" in err
