"""The issue's fleet: 3 crawl workers, 2 deliverers and 2 bot candidates on one PostgreSQL and one Redis, over
local sources and a fake Bot API; one of each killed with SIGKILL mid-round, and nothing lost or doubled."""

import collections
import json
import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests import fakebot
from tests.conftest import VEILLE, Article, article_page, distinct_text, recent, rss, run_veille, write_config
from tests.fakebot import FakeBotAPI
from tests.test_roles import wait_until

SOURCES = 300
TOKEN = "424242:FLEET-token-never-printed"
CHAT = 5001  # a private chat: Telegram's pace for groups (20 a minute) would make the test a long one
WATCHERS = (77, 78)  # one asks /help before the leader is killed, the other after


def article(n: int) -> Article:
    return Article(f"a{n}", f"SecNumCloud : annonce {n} du cloud souverain", distinct_text(n), recent(1))


def world(request: Request) -> Response:
    """Source n's feed at /s/n/rss.xml, holding its one article, served at /articles/an."""
    if found := re.fullmatch(r"/s/(\d+)/rss.xml", request.path):
        return Response(rss(request.host_url.rstrip("/"), [article(int(found[1]))]),
                        content_type="application/rss+xml")
    if found := re.fullmatch(r"/articles/a(\d+)", request.path):
        return Response(article_page(article(int(found[1]))), content_type="text/html; charset=utf-8")
    return Response("not here", status=404)


class Fleet:
    """The `veille run --role ...` processes, each logging to a file of its own."""

    def __init__(self, folder: Path, config: Path, env: dict[str, str]) -> None:
        self.folder, self.config, self.env = folder, config, env
        self.processes: dict[str, subprocess.Popen[str]] = {}

    def start(self, name: str, role: str) -> None:
        log = (self.folder / f"{name}.log").open("w")
        self.processes[name] = subprocess.Popen([*VEILLE, "run", "--role", role, "--config", str(self.config)],
                                                env=self.env, text=True, stdout=log, stderr=log,
                                                stdin=subprocess.DEVNULL)

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def kill(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait()

    def alive(self) -> dict[str, subprocess.Popen[str]]:
        return {name: p for name, p in self.processes.items() if p.returncode != -signal.SIGKILL}

    def leader(self) -> str | None:
        leading = [name for name in self.alive() if name.startswith("bot") and "bot: leading" in self.log(name)]
        return leading[0] if leading else None

    def wait(self, condition: Callable[[], Any], seconds: float = 180) -> None:
        def met() -> Any:
            for name, process in self.alive().items():
                assert process.poll() is None, f"{name} died: {self.log(name)[-2000:]}"
            return condition()
        wait_until(met, seconds)


@pytest.fixture
def fleet(tmp_path: Path, threaded: HTTPServer, fake_bot: FakeBotAPI, pg_archive: str,
          redis_url: str) -> Iterator[Fleet]:
    threaded.expect_request(re.compile(r"^/(s|articles)/.*")).respond_with_handler(world)
    base = threaded.url_for("").rstrip("/")
    config = write_config(
        tmp_path / "config.yaml", [{"name": f"s{n}", "feed": f"{base}/s/{n}/rss.xml"} for n in range(SOURCES)],
        [{"name": "cloud-souverain", "keywords": ["SecNumCloud"], "chats": [CHAT]}],
        storage={"url": pg_archive, "path": str(tmp_path / "unused.db")},
        crawl={"interval": "30s", "timeout": "10s", "delay": "0s", "queue": redis_url},
        alerts={"max_per_hour": 10_000}, telegram={"allowed_chats": list(WATCHERS)})
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    fake_bot.delay = 0.02  # sends take a little while, so that a deliverer can be killed mid-round
    running = Fleet(tmp_path, config, env | {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": f"{fake_bot.url}/bot"})
    try:
        yield running
    finally:
        for process in running.processes.values():
            process.kill()
            process.wait()


def stored(url: str) -> list[tuple[str, int]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT canonical_url, count(*) FROM articles GROUP BY canonical_url").fetchall()


def alerts(fake_bot: FakeBotAPI) -> collections.Counter[int]:
    """How many times each article was alerted, by its number."""
    texts = [c.params["text"] for c in fake_bot.sent() if int(c.params["chat_id"]) == CHAT]
    return collections.Counter(int(n) for text in texts for n in re.findall(r"annonce (\d+) du", text))


@pytest.mark.timeout(900)  # seven processes on two cores, and leases of a killed worker to run out
def test_three_crawlers_two_deliverers_two_bots_survive_a_kill_of_each(fleet: Fleet, fake_bot: FakeBotAPI,
                                                                       pg_archive: str) -> None:
    for role, count in (("crawl", 3), ("deliver", 2), ("bot", 2)):
        for n in range(count):
            fleet.start(f"{role}{n}", role)

    fleet.wait(lambda: len(stored(pg_archive)) >= SOURCES // 4)
    fleet.kill("crawl0")  # mid-round: its leased sources are crawled by the others at their next round
    fleet.wait(lambda: sum(alerts(fake_bot).values()) >= SOURCES // 10)
    fleet.kill("deliver0")  # mid-round: its claims are given back (same host, pid gone) and sent by deliver1

    fleet.wait(lambda: all("bot: leading" in fleet.log(b) or "bot: waiting for the leader" in fleet.log(b)
                           for b in ("bot0", "bot1")))
    assert ["bot: leading" in fleet.log(b) for b in ("bot0", "bot1")].count(True) == 1, "one leader"
    fake_bot.push(fakebot.message("/help", WATCHERS[0]))
    fleet.wait(lambda: fake_bot.replies(WATCHERS[0]))
    first = fleet.leader()
    assert first is not None
    fleet.kill(first)
    fleet.wait(lambda: fleet.leader() not in (None, first))
    fake_bot.push(fakebot.message("/help", WATCHERS[1]))
    fleet.wait(lambda: fake_bot.replies(WATCHERS[1]))
    assert "/help" in fake_bot.replies(WATCHERS[0])[0] and "/help" in fake_bot.replies(WATCHERS[1])[0]

    try:  # the killed crawler's sources wait for their leases to run out: a slow machine takes a while
        fleet.wait(lambda: len(stored(pg_archive)) == SOURCES and len(alerts(fake_bot)) == SOURCES, 480)
    except AssertionError as exc:
        missing = sorted(set(range(SOURCES)) - set(alerts(fake_bot)))
        raise AssertionError(f"{len(stored(pg_archive))} of {SOURCES} stored, alerts missing for {missing[:20]};"
                             f" deliver1 said: {fleet.log('deliver1')[-1500:]}") from exc
    assert {count for _, count in stored(pg_archive)} == {1}, "every article stored once"
    sent = alerts(fake_bot)
    assert sorted(sent) == list(range(SOURCES))
    assert sum(sent.values()) - SOURCES <= 3, f"at most one repeat per kill: {sent.most_common(4)}"

    status = run_veille("status", "--json", "--config", str(fleet.config), env=fleet.env)
    assert status.returncode == 0, status.stderr
    listed = json.loads(status.stdout)["workers"]
    assert collections.Counter(w["role"] for w in listed) == {"crawl": 3, "deliver": 2, "bot": 2}
    assert {w["pid"] for w in listed} == {p.pid for p in fleet.processes.values()}

    for process in fleet.alive().values():
        process.send_signal(signal.SIGTERM)
    for name, process in fleet.alive().items():
        assert process.wait(timeout=60) == 0, fleet.log(name)[-2000:]
    assert TOKEN not in "".join(fleet.log(name) for name in fleet.processes)
    after = json.loads(run_veille("status", "--json", "--config", str(fleet.config)).stdout)
    assert {w["pid"] for w in after["workers"]} == {fleet.processes[n].pid for n in ("crawl0", "deliver0", first)}
