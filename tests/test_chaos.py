"""`veille run` killed with SIGKILL at random moments, again and again, on growing feeds and a flaky
Telegram (429s, 502s, slow accepts), then left to drain: no alert lost, at most one repeat per kill, no
article missing from the archive."""

import random
import signal
import sqlite3
from pathlib import Path

from werkzeug import Request, Response

from tests.conftest import Site, article_page, rss, write_config
from tests.fakebot import FakeBotAPI
from tests.test_service import RunningService, service_env  # noqa: F401  (a fixture)
from tests.test_shutdown import TOPIC, story

KILLS = 10
ARTICLES = 24


class GrowingFeed:
    """A feed that lists two more articles at each fetch."""

    def __init__(self, site: Site) -> None:
        self.site, self.shown = site, 0
        self.articles = [story(i) for i in range(ARTICLES)]
        site.server.expect_request("/rss.xml").respond_with_handler(self._serve)
        for a in self.articles:
            site.page(f"/articles/{a.slug}", article_page(a))

    def _serve(self, request: Request) -> Response:
        self.shown = min(self.shown + 2, ARTICLES)
        return Response(rss(self.site.url, self.articles[:self.shown]), content_type="application/rss+xml")


def test_kill_9_again_and_again_loses_nothing(tmp_path: Path, site: Site, fake_bot: FakeBotAPI,
                                              service_env: dict[str, str]) -> None:  # noqa: F811
    feed = GrowingFeed(site)
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": site.url + "/rss.xml",
                                                      "interval": "1s"}], [TOPIC])
    chance = random.Random(20261202)
    fake_bot.delay = 0.2
    for _ in range(KILLS):
        fake_bot.script["sendMessage"] = chance.sample([("429", 1), ("500", None), ("500", None)], 2)
        service = RunningService(config, service_env)
        before = (len(fake_bot.calls), feed.shown)
        try:  # running (it fetched or sent something), then killed at a random moment
            service.wait_for(lambda: (len(fake_bot.calls), feed.shown) != before)  # noqa: B023
            service.wait_for(lambda: chance.random() < 0.2)
        finally:
            service.process.send_signal(signal.SIGKILL)
            service.process.communicate(timeout=30)

    fake_bot.delay = 0
    titles = {a.title for a in feed.articles}
    service = RunningService(config, service_env)
    try:
        service.wait_for(lambda: titles <= set(alerted(fake_bot)), seconds=90)
        _, err = service.stop(signal.SIGTERM)
    finally:
        service.process.kill()
    assert service.process.returncode == 0, err
    sent = alerted(fake_bot)
    assert len(sent) - len(set(sent)) <= KILLS, f"{len(sent) - len(set(sent))} repeats after {KILLS} kills"
    with sqlite3.connect(tmp_path / "veille.db") as db:
        stored = {row[0] for row in db.execute("SELECT title FROM articles")}
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert titles <= stored


def alerted(fake: FakeBotAPI) -> list[str]:
    return [c.params["text"].split("</a>")[0].rsplit(">", 1)[-1] for c in fake.sent()]
