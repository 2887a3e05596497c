"""One crawler for every source: politeness per host, limits and state per source, robots.txt cached.

The crawls run in a process of their own (one reactor per process), as `veille crawl` and `veille run` do,
against local servers; the pure parts (robots.txt lifetimes, a run's meta and its count of what is still
outstanding) are tested on built inputs.
"""

import asyncio
import json
import sqlite3
import subprocess
import sys
import threading
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from scrapy.http import Request, Response
from scrapy.utils.test import get_crawler
from werkzeug import Request as WebRequest
from werkzeug import Response as WebResponse

from crawler.config import CrawlConfig, Source
from crawler.items import ArticleItem
from crawler.robots import DAY, CachedRobotsTxtMiddleware, lifetime
from crawler.run import Run
from tests.conftest import Article, Site, article_page, distinct_text, recent, rss, run_veille, write_config

# Rounds of crawl_all in one process, or a crawl cancelled once its article page is requested; prints JSON.
SCRIPT = """
import asyncio, json, sys
from pathlib import Path
from crawler import runner
from crawler.engine import engine_for
from storage import health
from veille.config import load
from veille.loop import run
from veille.service import open_for_crawl

config = load(Path(sys.argv[1]))
archive = open_for_crawl(config)

async def rounds():
    out = []
    for _ in range(int(sys.argv[3])):
        reports = await runner.crawl_all(config.sources, config.crawl, archive)
        out.append({r.source: [r.new, r.error] for r in reports})
    return out

async def cancelled():
    source = config.sources[0]
    task = asyncio.ensure_future(runner.crawl_source(source, config.crawl, archive))
    while not any(r.followed for r in engine_for(config.crawl).runs):  # its feed read, its page requested
        await asyncio.sleep(0.02)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    after_cancel = await archive.read(health.validators, source.name)
    report = await runner.crawl_source(source, config.crawl, archive)
    return [after_cancel, report.error, await archive.read(health.validators, source.name)]

async def reloaded():
    source, older = config.sources[0], engine_for(config.crawl)
    task = asyncio.ensure_future(runner.run_spider(source, config.crawl, None))
    while not any(r.followed for r in older.runs):  # its page requested: the run is under way
        await asyncio.sleep(0.02)
    newer_defaults = config.crawl.model_copy(update={"retries": config.crawl.retries + 1})
    newer = engine_for(newer_defaults)  # a config reload changed the crawl defaults
    during = older.ended
    report, items = await task
    for _ in range(500):  # its crawler stopping, now that no run uses it
        if older.ended:
            break
        await asyncio.sleep(0.02)
    _, again = await runner.run_spider(source, newer_defaults, None)
    return [during, report.error, len(items), older.ended, newer.ended, len(again), engine_for(newer_defaults) is newer]

print(json.dumps(run({"rounds": rounds, "cancelled": cancelled, "reloaded": reloaded}[sys.argv[2]])))
"""


def in_process(config: Path, mode: str, rounds: int = 1) -> Any:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(config), mode, str(rounds)], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def articles(slug: str, count: int, seed: int = 0) -> list[Article]:
    return [Article(f"{slug}-{n}", f"Article {slug} {n}", distinct_text(seed + n), recent()) for n in range(count)]


class Concurrency:
    """Counts the requests a server is answering at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.most = 0

    def answer(self, body: str, kind: str) -> Any:
        def handler(request: WebRequest) -> WebResponse:
            with self.lock:
                self.now += 1
                self.most = max(self.most, self.now)
            time.sleep(0.2)  # long enough for requests let loose together to overlap
            with self.lock:
                self.now -= 1
            return WebResponse(body, content_type=kind)
        return handler


def test_four_sources_of_one_host_share_its_concurrency_and_its_robots_txt(
        tmp_path: Path, threaded: HTTPServer) -> None:
    base = threaded.url_for("").rstrip("/")
    seen = Concurrency()
    sources = []
    for i in range(4):
        found = articles(f"s{i}", 2, seed=10 * i)
        threaded.expect_request(f"/feed/{i}").respond_with_handler(
            seen.answer(rss(base, found), "application/rss+xml"))
        for a in found:
            threaded.expect_request(f"/articles/{a.slug}").respond_with_handler(
                seen.answer(article_page(a), "text/html; charset=utf-8"))
        sources.append({"name": f"s{i}", "feed": f"{base}/feed/{i}"})
    config = write_config(tmp_path / "config.yaml", sources,
                          crawl={"interval": "1h", "timeout": "5s", "delay": "0s", "concurrency_per_domain": 2})
    reports = in_process(config, "rounds", rounds=2)
    assert reports == [{f"s{i}": [2, None] for i in range(4)}, {f"s{i}": [0, None] for i in range(4)}]
    assert seen.most == 2  # 4 feeds and 8 pages, never more than 2 at once
    robots = [request for request, _ in threaded.log if request.path == "/robots.txt"]
    assert len(robots) == 1  # one for the host, not one per source and round


def test_a_sources_max_bytes_holds_for_its_pages_only(tmp_path: Path, site: Site) -> None:
    padding = "<!-- " + "x" * 60_000 + " -->"
    small, large = articles("small", 1), articles("large", 1, seed=5)
    for a in small + large:
        site.page(f"/articles/{a.slug}", article_page(a) + padding)
    for name, found in (("small", small), ("large", large)):
        site.server.expect_request(f"/{name}.xml").respond_with_data(rss(site.url, found),
                                                                     content_type="application/rss+xml")
    config = write_config(tmp_path / "config.yaml", [
        {"name": "small", "feed": f"{site.url}/small.xml", "max_bytes": "20KB"},
        {"name": "large", "feed": f"{site.url}/large.xml"}])
    assert in_process(config, "rounds") == [{"small": [1, None], "large": [1, None]}]
    with sqlite3.connect(tmp_path / "veille.db") as conn:
        full = dict(conn.execute("SELECT source, full_text FROM articles").fetchall())
    assert full == {"small": 0, "large": 1}  # the small one kept its feed's text, the other its page's


def test_a_failing_source_leaves_the_others_of_its_host_alone(tmp_path: Path, site: Site) -> None:
    site.server.expect_request("/gone.xml").respond_with_data("", status=404)
    config = write_config(tmp_path / "config.yaml", [
        {"name": "gone", "feed": f"{site.url}/gone.xml"},
        {"name": "one", "feed": site.feed("/one.xml", articles("one", 2))},
        {"name": "two", "feed": site.feed("/two.xml", articles("two", 1, seed=7))}])
    result = run_veille("crawl", "--config", str(config))
    assert result.returncode == 0, result.stderr
    status = run_veille("status", "--json", "--config", str(config))
    health = {s["name"]: s for s in json.loads(status.stdout)["sources"]}
    assert "HTTP 404" in health["gone"]["last_error"]
    assert (health["one"]["last_error"], health["two"]["last_error"]) == (None, None)
    with sqlite3.connect(tmp_path / "veille.db") as conn:
        counts = dict(conn.execute("SELECT source, count(*) FROM articles GROUP BY source").fetchall())
    assert counts == {"one": 2, "two": 1}


def test_a_cancelled_crawl_saves_no_validators(tmp_path: Path, threaded: HTTPServer) -> None:
    base = threaded.url_for("").rstrip("/")
    found = articles("slow", 1)
    threaded.expect_request("/feed.xml").respond_with_response(
        WebResponse(rss(base, found), content_type="application/rss+xml", headers={"ETag": '"v1"'}))
    calls = []

    def page(request: WebRequest) -> WebResponse:
        calls.append(request.path)
        if len(calls) == 1:
            time.sleep(3)  # the first crawl is cancelled while it waits for this page
        return WebResponse(article_page(found[0]), content_type="text/html; charset=utf-8")

    threaded.expect_request(f"/articles/{found[0].slug}").respond_with_handler(page)
    config = write_config(tmp_path / "config.yaml", [{"name": "slow", "feed": f"{base}/feed.xml"}])
    after_cancel, error, after_crawl = in_process(config, "cancelled")
    assert after_cancel == {}
    assert error is None and after_crawl["etag"] == '"v1"'  # a crawl that finished saves them


def test_an_engine_of_older_crawl_defaults_closes_once_its_runs_are_done(
        tmp_path: Path, threaded: HTTPServer) -> None:
    base = threaded.url_for("").rstrip("/")
    found = articles("reload", 1)
    threaded.expect_request("/feed.xml").respond_with_data(rss(base, found), content_type="application/rss+xml")

    def page(request: WebRequest) -> WebResponse:
        time.sleep(1)  # the reload comes while the older engine's run waits for this page
        return WebResponse(article_page(found[0]), content_type="text/html; charset=utf-8")

    threaded.expect_request(f"/articles/{found[0].slug}").respond_with_handler(page)
    config = write_config(tmp_path / "config.yaml", [{"name": "reload", "feed": f"{base}/feed.xml"}])
    during, error, stored, older_ended, newer_ended, again, same = in_process(config, "reloaded")
    assert (during, error, stored) == (False, None, 1)  # the run under way finished in the older engine
    assert older_ended and not newer_ended  # then that engine's crawler stopped; the newer one serves
    assert (again, same) == (1, True)


@pytest.mark.parametrize(("headers", "seconds"), [
    ({}, DAY),
    ({"Cache-Control": "public, max-age=600"}, 600),
    ({"Cache-Control": "max-age=864000"}, DAY),  # ten days asked, a day kept (RFC 9309)
    ({"Cache-Control": "no-cache, max-age=0"}, 60),  # not one robots.txt per request
    ({"Expires": formatdate(1_000_000_000 + 7200, usegmt=True)}, 7200),
])
def test_a_robots_txt_is_kept_for_a_day_or_what_its_headers_say(headers: dict[str, str], seconds: float) -> None:
    response = Response("http://site.example/robots.txt", headers=headers)
    assert lifetime(response, now=1_000_000_000) == seconds


class Engine:
    """Stands in for Scrapy's engine: answers every robots.txt download, counting them."""

    def __init__(self) -> None:
        self.downloads: list[str] = []

    async def download_async(self, request: Request) -> Response:
        self.downloads.append(request.url)
        return Response(request.url, body=b"User-agent: *\nDisallow: /private\n",
                        headers={"Cache-Control": "max-age=600"})


def test_the_robots_txt_of_a_host_is_fetched_again_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    crawler = get_crawler(settings_dict={"ROBOTSTXT_OBEY": True})
    engine = crawler.engine = Engine()  # type: ignore[assignment]
    robots = CachedRobotsTxtMiddleware.from_crawler(crawler)
    clock = [1000.0]
    monkeypatch.setattr("crawler.robots.time.monotonic", lambda: clock[0])

    async def ask(url: str) -> bool:
        parser = await robots.robot_parser(Request(url))
        assert parser is not None
        return bool(parser.allowed(url, "veille"))

    async def rounds() -> list[bool]:
        answers = [await ask("http://site.example/a"), await ask("http://site.example/private/b")]
        clock[0] += 599
        answers.append(await ask("http://site.example/c"))
        clock[0] += 2
        answers.append(await ask("http://site.example/d"))
        return answers

    assert asyncio.run(rounds()) == [True, False, True, True]
    assert engine.downloads == ["http://site.example/robots.txt"] * 2  # once, then once after 600 s


def test_a_run_carries_its_sources_limits_in_meta() -> None:
    run = Run(Source(name="s", feed="https://site.example/feed.xml", max_bytes=20_000, timeout="7s",
                     obey_robots=False), CrawlConfig(retries=4))
    meta = run.request("https://site.example/a", callback=lambda r: None, errback=lambda f: None).meta
    assert meta["run"] is run
    assert (meta["download_maxsize"], meta["download_timeout"], meta["max_retry_times"]) == (20_000, 7.0, 4)
    assert meta["dont_obey_robotstxt"] is True


def test_a_run_drains_once_its_requests_have_run_and_its_items_are_stored() -> None:
    run = Run(Source(name="s", feed="https://site.example/feed.xml"))
    item = ArticleItem(source="s", url="u", canonical_url="u", title="t", text="x")

    def parse(response: Response) -> Any:
        yield run.request("https://site.example/b", callback=lambda r: None, errback=lambda f: None)
        yield item

    async def steps() -> list[bool]:
        first = run.request("https://site.example/a", callback=parse, errback=lambda f: None)
        assert first.callback is not None
        output = [thing async for thing in first.callback(Response(first.url))]
        states = [run.drained.is_set()]  # a request and an item still out
        assert output[1] is item and item.run is run
        await anext(output[0].callback(Response(output[0].url)), None)
        states.append(run.drained.is_set())  # the item is not stored yet
        run.release()  # what the pipeline does once it has stored it
        states.append(run.drained.is_set())
        return states

    assert asyncio.run(steps()) == [False, False, True]
