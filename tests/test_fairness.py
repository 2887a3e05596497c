"""Fairness between sources in one real `veille crawl`: a slow source holds up neither the others' alerts nor
the end of the crawl (its time budget).

Orderings, not timings: the slow source's pages wait until the healthy source's alert has reached the fake
Bot API, and say whether it did.
"""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import SOVEREIGN, Article, Site, article_page, distinct_text, recent, rss, run_veille, write_config
from tests.fakebot import FakeBotAPI
from tests.test_crawl_sources import status

TOKEN = "123456:TEST-token-never-printed"
SLOW = [Article(f"lent-{i}", f"Lent {i}", distinct_text(500 + i), recent(1)) for i in range(20)]


@pytest.fixture
def threaded() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    server.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    yield server
    server.clear()
    server.stop()


def test_a_slow_source_delays_neither_the_others_alerts_nor_the_end_of_the_crawl(
        tmp_path: Path, threaded: HTTPServer, fake_bot: FakeBotAPI) -> None:
    site = Site(threaded)
    healthy = site.feed("/good/rss.xml", [SOVEREIGN])
    seen_while_slow: list[bool] = []

    def drip(request: Request) -> Response:
        """A slow page: it waits for the healthy source's alert (20 s at most), then takes 3 s more."""
        deadline = time.monotonic() + 20
        while not fake_bot.sent() and time.monotonic() < deadline:
            time.sleep(0.05)
        seen_while_slow.append(bool(fake_bot.sent()))
        time.sleep(3)
        return Response(article_page(SLOW[0]), content_type="text/html")

    threaded.expect_request("/slow/rss.xml").respond_with_data(
        rss(site.url, SLOW).replace("/articles/", "/slow/"), content_type="application/rss+xml")
    for article in SLOW:
        threaded.expect_request(f"/slow/{article.slug}").respond_with_handler(drip)
    topic = {"name": "cloud", "keywords": ["cloud souverain"], "chats": [1001]}
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": healthy},
                                                     {"name": "lent", "feed": f"{site.url}/slow/rss.xml",
                                                      "budget": "5s"}],
                          [topic], crawl={"timeout": "30s", "delay": "0s", "retries": 0})
    result = run_veille("crawl", "--config", str(config),
                        env={"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": f"{fake_bot.url}/bot"})
    assert result.returncode == 0, result.stderr
    assert seen_while_slow and seen_while_slow[0], "the healthy source's alert went out while the slow one ran"
    assert sum(SOVEREIGN.slug in c.params["text"] for c in fake_bot.sent()) == 1
    assert len(seen_while_slow) < len(SLOW), "the budget ended the slow source's crawl"
    error = status(config)["lent"]["last_error"]
    assert error == "its time budget (5s) was spent: the rest is fetched next round"
    assert status(config)["journal"]["last_error"] is None
