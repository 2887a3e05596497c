"""Fairness between sources in one real `veille crawl`: a slow source holds up neither the others' alerts nor
the end of the crawl (its time budget), neither the loop (its feed parsed in a worker) nor every extraction
worker (its share of the pool).

Orderings, not timings: the slow source waits until the healthy one has done what is asserted (its alert
sent, its page requested, its page extracted), and the test reads whether it had. Slow parsing and
extraction are simulated by a sitecustomize module on the PYTHONPATH of the `veille crawl` under test (so
also in its workers): marked feeds and pages are held until a file says `release`.
"""

import os
import time
from pathlib import Path

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import SOVEREIGN, Article, Site, article_page, distinct_text, recent, rss, run_veille, write_config
from tests.fakebot import FakeBotAPI
from tests.test_crawl_sources import status

TOKEN = "123456:TEST-token-never-printed"
SLOW = [Article(f"lent-{i}", f"Lent {i}", distinct_text(500 + i), recent(1)) for i in range(20)]


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


HOOK = """
import os, pathlib, time
import feedparser, trafilatura

DIR = pathlib.Path(os.environ["HOOK_DIR"])


def _held() -> None:
    deadline = time.monotonic() + 30
    while not (DIR / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.02)


_parse = feedparser.parse


def parse(document, *args, **kwargs):
    if isinstance(document, bytes) and b"slow-feed" in document:
        (DIR / "parse-started").touch()
        _held()
        (DIR / "parse-ended").touch()
    return _parse(document, *args, **kwargs)


_extract = trafilatura.load_html  # what crawler.extract calls first, on the page as fetched


def extract(html, *args, **kwargs):
    html = html if isinstance(html, str) else html.decode("utf-8", "replace")
    if "slow-page" in html:
        (DIR / f"started-{os.getpid()}-{time.monotonic_ns()}").touch()
        _held()
    elif "healthy-page" in html:
        (DIR / "healthy-saw").write_text(str(len(list(DIR.glob("started-*")))))
        (DIR / "release").touch()
    return _extract(html, *args, **kwargs)


feedparser.parse, trafilatura.load_html = parse, extract
"""


def hooked(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The folder the hook writes its marks in, and the environment that installs it."""
    marks = tmp_path / "marks"
    marks.mkdir()
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(HOOK, encoding="utf-8")
    return marks, {"PYTHONPATH": str(tmp_path / "hook") + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   "HOOK_DIR": str(marks)}


def wait_for(condition: object, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


def test_a_feed_slow_to_parse_does_not_hold_the_loop(tmp_path: Path, threaded: HTTPServer) -> None:
    site, (marks, env) = Site(threaded), hooked(tmp_path)
    threaded.expect_request("/slow/rss.xml").respond_with_data(
        rss(site.url, SLOW[:1], title="slow-feed"), content_type="application/rss+xml")
    parsing_when_requested: list[bool] = []

    def healthy_feed(_: Request) -> Response:
        wait_for((marks / "parse-started").exists)  # answered only while the slow feed is being parsed
        return Response(rss(site.url, [SOVEREIGN]), content_type="application/rss+xml")

    def healthy_page(_: Request) -> Response:
        parsing_when_requested.append(not (marks / "parse-ended").exists())
        (marks / "release").touch()
        return Response(article_page(SOVEREIGN), content_type="text/html")

    threaded.expect_request("/good/rss.xml").respond_with_handler(healthy_feed)
    threaded.expect_request(f"/articles/{SOVEREIGN.slug}").respond_with_handler(healthy_page)
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": f"{site.url}/good/rss.xml"},
                                                     {"name": "lent", "feed": f"{site.url}/slow/rss.xml"}])
    result = run_veille("crawl", "--config", str(config), env=env)
    assert result.returncode == 0, result.stderr
    assert parsing_when_requested == [True], "the healthy source went on while the slow feed was parsed"


def test_a_source_of_pages_slow_to_extract_holds_only_its_share_of_the_workers(tmp_path: Path,
                                                                               threaded: HTTPServer) -> None:
    site, (marks, env) = Site(threaded), hooked(tmp_path)
    slow = SLOW[:6]
    site.server.expect_request("/slow/rss.xml").respond_with_data(
        rss(site.url, slow).replace("/articles/", "/slow/"), content_type="application/rss+xml")
    for article in slow:
        site.page(f"/slow/{article.slug}", article_page(article).replace("<main>", "<main><!-- slow-page -->"))

    def healthy_feed(_: Request) -> Response:
        wait_for(lambda: any(marks.glob("started-*")))  # answered once the slow pages are being extracted
        return Response(rss(site.url, [SOVEREIGN]), content_type="application/rss+xml")

    site.server.expect_request("/good/rss.xml").respond_with_handler(healthy_feed)
    site.page(f"/articles/{SOVEREIGN.slug}", article_page(SOVEREIGN).replace("<main>", "<main><!-- healthy-page -->"))
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": f"{site.url}/good/rss.xml"},
                                                     {"name": "lent", "feed": f"{site.url}/slow/rss.xml"}],
                          crawl={"timeout": "60s", "delay": "0s", "extract_timeout": "120s"})
    result = run_veille("crawl", "--config", str(config), env=env, timeout=400)
    assert result.returncode == 0, result.stderr
    saw = int((marks / "healthy-saw").read_text())
    assert 1 <= saw <= 2, f"the healthy page waited behind {saw} of the slow source's pages"
