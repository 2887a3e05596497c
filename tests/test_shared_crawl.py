"""Crawl workers sharing one Redis (crawl.queue): each source's lease is taken by one worker per interval."""

import asyncio
import configparser
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from scrapy.http import Request, Response

from crawler import shared
from crawler.config import CrawlConfig, Source
from crawler.run import Run
from crawler.settings import crawl_settings
from crawler.shared import HostSlots, Leases, SeenElsewhere, SharedDupeFilterMiddleware
from tests.conftest import VEILLE, Article, article_page, distinct_text, recent, rss, write_config
from veille.config import ConfigError, load


def test_a_queue_that_is_not_redis_is_refused_without_its_password(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("crawl:\n  queue: postgresql://veille:secret@db/veille\nsources: []\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.problems == ["crawl.queue: 'db/veille' is not a Redis URL (redis://host:port/db)"]
    assert CrawlConfig(queue="redis://127.0.0.1:6379/0").queue == "redis://127.0.0.1:6379/0"


def test_one_worker_takes_a_source_per_interval(redis_url: str) -> None:
    async def main() -> tuple[list[bool], list[bool], dict[str, str]]:
        first, second = Leases(redis_url), Leases(redis_url)
        second.me = "other:1"
        try:
            now = [await first.take("source:cnil", 60), await second.take("source:cnil", 60),
                   await second.take("source:anssi", 60)]
            held = await first.holders()
            # a short interval: the lease runs out before it does, and the other worker takes the source then
            short = [await first.take("source:dinum", 0.2)]
            await asyncio.sleep(0.3)
            short.append(await second.take("source:dinum", 0.2))
            return now, short, held
        finally:
            await first.close()
            await second.close()

    now, short, held = asyncio.run(main())
    assert now == [True, False, True]
    assert short == [True, True]
    assert held["source:anssi"] == "other:1"
    assert held["source:cnil"].endswith(f":{__import__('os').getpid()}")


def test_without_a_queue_the_crawl_is_not_shared() -> None:
    alone = crawl_settings(CrawlConfig())
    shared = crawl_settings(CrawlConfig(queue="redis://127.0.0.1:6379/0"))
    assert not any(name.startswith("crawler.shared") for name in alone["DOWNLOADER_MIDDLEWARES"])
    assert shared["DOWNLOADER_MIDDLEWARES"]["crawler.shared.HostSlotMiddleware"] == 900
    assert shared["VEILLE_QUEUE"] == "redis://127.0.0.1:6379/0"


def test_an_article_page_is_fetched_once_across_workers_and_again_after_a_failure(redis_url: str) -> None:
    async def main() -> list[str]:
        first, second = SharedDupeFilterMiddleware(redis_url), SharedDupeFilterMiddleware(redis_url)
        said = []

        async def ask(worker: SharedDupeFilterMiddleware, request: Request) -> Request:
            try:
                await worker.process_request(request)
                said.append("fetch")
            except SeenElsewhere:
                said.append("seen")
            return request

        page = "http://127.0.0.1:9/articles/x"
        feed = "http://127.0.0.1:9/rss.xml"
        dry = Run(Source(name="essai", feed=feed), dry_run=True)
        await ask(first, Request(page, meta={"entry": None, "run": dry}))  # a dry run marks nothing seen
        taken = await ask(first, Request(page, meta={"entry": None}))
        await ask(second, Request(page + "?", meta={"entry": None}))  # the same page once canonicalised
        await ask(second, Request(feed))  # a feed (no entry): always fetched
        await ask(first, Request(feed))
        await ask(first, taken)  # its own retry or redirect: not checked again
        # the first worker's fetch failed: the page is forgotten, the next worker fetches it
        await first.process_response(taken, Response(page, status=503))
        await ask(second, Request(page, meta={"entry": None}))
        return said

    assert asyncio.run(main()) == ["fetch", "fetch", "seen", "fetch", "fetch", "fetch", "fetch"]


def test_a_page_whose_worker_died_mid_fetch_is_fetched_again(redis_url: str, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    """A claim lasts the fetch's longest, not the day: a killed worker's page is not lost."""
    monkeypatch.setattr(shared, "CLAIM_MARGIN", 0.2)

    async def main() -> list[str]:
        first, second = SharedDupeFilterMiddleware(redis_url), SharedDupeFilterMiddleware(redis_url)
        page = "http://127.0.0.1:9/articles/y"
        meta = {"entry": None, "download_timeout": 0.1, "max_retry_times": 0}
        await first.process_request(Request(page, meta=dict(meta)))  # then the first worker dies: no answer
        said = []
        for _ in range(2):
            try:
                await second.process_request(Request(page, meta=dict(meta)))
                said.append("fetch")
            except SeenElsewhere:
                said.append("seen")
            await asyncio.sleep(0.5)
        return said

    assert asyncio.run(main()) == ["seen", "fetch"]


HOLD = """
import asyncio, sys
from crawler.shared import HostSlots

async def main():
    slots = HostSlots(sys.argv[1])
    await slots.acquire("127.0.0.1", 1, 0, 2.0)
    print("held", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def test_a_killed_workers_host_slot_frees_itself(redis_url: str) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, redis_url], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()

    async def main() -> tuple[bool, str]:
        slots = HostSlots(redis_url)
        try:
            token = await slots.acquire("127.0.0.2", 1, 0, 60)  # another host is not held up
            full = await slots.script(keys=["veille:host:127.0.0.1", "veille:host:127.0.0.1:next"],
                                      args=[1, 60000, 0, "probe"])
            # the killed holder's slot runs out (2 s), then this worker gets it: a guard, not a timing
            await asyncio.wait_for(slots.acquire("127.0.0.1", 1, 0, 60), timeout=20)
            return full == -1, token
        finally:
            await slots.close()

    full, token = asyncio.run(main())
    assert full and token


def test_hundreds_of_requests_wait_for_their_hosts_at_once(redis_url: str) -> None:
    async def main() -> list[str]:
        slots = HostSlots(redis_url)
        try:  # more than a Redis client's default pool (100): each waits for a connection, none fails
            return await asyncio.gather(*(slots.acquire(f"host-{n}", 1, 0, 60) for n in range(300)))
        finally:
            await slots.close()

    assert len(set(asyncio.run(main()))) == 300


class Busy:
    """A local site whose every answer takes a while: it counts requests per path and the most at once.
    A feed's answer waits (up to `meet` seconds) until every feed was asked for, so that two workers that do
    not share their host's slots are seen at once, whatever the time each took to start."""

    def __init__(self, latency: float, meet: float) -> None:
        self.latency = latency
        self.meet = meet
        self.feeds: set[str] = set()
        self.met = threading.Event()
        self.pages: dict[str, tuple[str, str]] = {}
        self.hits: Counter[str] = Counter()
        self.now = self.most = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                with site.lock:
                    site.hits[path] += 1
                    site.now += 1
                    site.most = max(site.most, site.now)
                time.sleep(site.latency)
                if path.endswith(".xml"):
                    site.feeds.discard(path)
                    if not site.feeds:
                        site.met.set()
                    site.met.wait(site.meet)
                with site.lock:
                    site.now -= 1
                kind, body = site.pages.get(self.path.split("?")[0], ("text/plain", "User-agent: *\nAllow: /\n"))
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def feed(self, path: str, articles: list[Article]) -> str:
        self.pages[path] = ("application/rss+xml", rss(self.url, articles))
        self.feeds.add(path)
        for a in articles:
            self.pages[f"/articles/{a.slug}"] = ("text/html; charset=utf-8", article_page(a))
        return self.url + path


@pytest.fixture
def busy() -> Iterator[Busy]:
    site = Busy(latency=0.1, meet=8)
    thread = threading.Thread(target=site.server.serve_forever, daemon=True)
    thread.start()
    yield site
    site.server.shutdown()
    site.server.server_close()


def test_two_workers_share_a_host_and_its_articles(busy: Busy, redis_url: str, tmp_path: Path) -> None:
    both = Article("cloud-partage", "Un article repris par deux sources", distinct_text(1), recent(1))
    own = {name: [Article(f"{name}-{n}", f"Article {name} {n}", distinct_text(10 * n + len(name)), recent(2))
                  for n in range(3)] for name in ("alpha", "beta")}
    configs = []
    for name in own:
        folder = tmp_path / name
        folder.mkdir()
        crawl = {"interval": "1h", "timeout": "20s", "delay": "0s", "concurrency_per_domain": 1, "queue": redis_url}
        source = {"name": name, "feed": busy.feed(f"/{name}.xml", [both, *own[name]])}
        configs.append(write_config(folder / "config.yaml", [source], crawl=crawl))

    workers = [subprocess.Popen([*VEILLE, "crawl", "--config", str(c)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL) for c in configs]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    assert busy.most == 1  # one request at a time on the host, across both workers
    assert busy.hits["/articles/cloud-partage"] == 1
    assert all(busy.hits[f"/articles/{a.slug}"] == 1 for articles in own.values() for a in articles)

    # the next round: the feed is fetched again, whatever the dupefilter holds
    again = subprocess.run([*VEILLE, "crawl", "--config", str(configs[0])], capture_output=True, text=True,
                           timeout=120, stdin=subprocess.DEVNULL)
    assert again.returncode == 0, again.stderr
    assert busy.hits["/alpha.xml"] == 2


ROOT = Path(__file__).parent.parent
ROLES = ("crawl", "deliver", "bot")


def test_the_compose_file_runs_every_role_on_postgresql_and_redis() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", *ROLES} <= set(services)
    for role in ROLES:
        service = services[role]
        assert service["command"][:3] == ["run", "--role", role]
        assert "/etc/veille/config.yaml" in service["command"]
        assert service["healthcheck"]["test"] and service["stop_signal"] == "SIGTERM"
        assert int(service["stop_grace_period"].removesuffix("s")) > 20  # above `veille run --grace`'s default
        assert set(service["depends_on"]) == {"postgres", "redis"}
        assert service["volumes"] == ["./deploy/config.fleet.yaml:/etc/veille/config.yaml:ro"]
    assert all("healthcheck" in services[name] for name in ("postgres", "redis"))


def test_the_systemd_unit_is_a_template_of_the_roles() -> None:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string((ROOT / "deploy/systemd/veille@.service").read_text())
    service = unit["Service"]
    command = service["ExecStart"].split()
    assert command[0].endswith("/veille") and command[1:4] == ["run", "--role", "%i"]
    grace = float(command[command.index("--grace") + 1])
    assert service["Restart"] == "on-failure" and service["KillSignal"] == "SIGTERM"
    assert float(service["TimeoutStopSec"].removesuffix("s")) > grace
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_the_fleet_config_is_valid_and_shares_the_archive_and_the_crawl() -> None:
    config = load(ROOT / "deploy/config.fleet.yaml")
    assert config.storage.url is not None and config.storage.url.startswith("postgresql://")
    assert config.crawl.queue == "redis://redis:6379/0"
