"""Roles' foundations on both backends: heartbeats (storage.workers) and the bot's leader (storage.leader),
a leader killed with SIGKILL included, and `veille run --role` as a user starts it."""

import asyncio
import collections
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import sqlite_utils
from pytest_httpserver import HTTPServer

from crawler.shared import Leases
from storage import Archive, leader, workers
from storage.leader import Leadership
from tests.conftest import VEILLE, Article, Site, distinct_text, recent, run_veille, write_config
from tests.fakebot import FakeBotAPI
from veille.config import load
from veille.service import Service

HOLD = """
import sys, time
from storage import leader
candidate = leader.candidate(sys.argv[1], sys.argv[2] or None)
assert candidate.try_lead()
print("leading", flush=True)
time.sleep(600)
"""


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """(archive path, storage.url): an SQLite file, or a PostgreSQL database holding the schema."""
    if request.param == "sqlite":
        return str(tmp_path / "veille.db"), None
    return str(tmp_path / "unused.db"), request.getfixturevalue("pg_archive")


@pytest.fixture
def archive(backend: tuple[str, str | None]) -> Iterator[Archive]:
    path, url = backend
    opened = Archive.open(path, url=url)
    yield opened
    opened.close()


def age_beats(backend: tuple[str, str | None], worker: str, seconds: int) -> None:
    """Move a worker's last heartbeat `seconds` into the past, as if it had stopped beating then."""
    path, url = backend
    if url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE workers SET last_beat = last_beat - make_interval(secs => %s) WHERE worker = %s",
                         [seconds, worker])
        return
    db = sqlite_utils.Database(path)
    with db.conn:
        db.execute("UPDATE workers SET last_beat = strftime('%Y-%m-%dT%H:%M:%S+00:00', last_beat, ?) WHERE worker = ?",
                   [f"-{seconds} seconds", worker])
    db.close()


def test_heartbeats_list_every_worker_with_its_role_and_say_when_one_is_gone(
        archive: Archive, backend: tuple[str, str | None]) -> None:
    archive.write_now(workers.beat, "a:1", "crawl", "a", 1)
    archive.write_now(workers.beat, "b:2", "bot", "b", 2)
    archive.write_now(workers.beat, "a:1", "crawl", "a", 1)  # a second beat: still one row
    listed = archive.read_now(workers.listing)
    assert [(w["worker"], w["role"], w["host"], w["pid"], w["gone"]) for w in listed] == [
        ("b:2", "bot", "b", 2, False), ("a:1", "crawl", "a", 1, False)]
    assert all(w["started"] and w["last_beat"] >= w["started"] for w in listed)

    gone_after = int((workers.GONE_AFTER * workers.BEAT_EVERY).total_seconds())
    age_beats(backend, "a:1", gone_after - 5)  # two beats missed: not gone yet
    assert [w["gone"] for w in archive.read_now(workers.listing)] == [False, False]
    age_beats(backend, "a:1", 10)  # a third
    assert {w["worker"]: w["gone"] for w in archive.read_now(workers.listing)} == {"a:1": True, "b:2": False}

    archive.write_now(workers.forget, "b:2")  # b stopped cleanly
    assert [w["worker"] for w in archive.read_now(workers.listing)] == ["a:1"]


def tries(candidate: Leadership, times: int = 50) -> bool:
    """Whether `candidate` leads within `times` tries a tenth of a second apart (as the service tries)."""
    for _ in range(times):
        if candidate.try_lead():
            return True
        time.sleep(0.1)
    return False


def test_of_two_candidates_one_leads_and_the_other_when_it_resigns(backend: tuple[str, str | None],
                                                                     archive: Archive) -> None:
    first, second = leader.candidate(*backend), leader.candidate(*backend)
    assert first.try_lead()
    assert first.try_lead()  # asked again, it still leads
    assert not second.try_lead()
    first.resign()
    assert tries(second)
    assert not first.try_lead()
    second.resign()


def test_a_leader_killed_with_sigkill_is_replaced(backend: tuple[str, str | None], archive: Archive) -> None:
    path, url = backend
    holder = subprocess.Popen([sys.executable, "-c", HOLD, path, url or ""], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "leading"
        waiting = leader.candidate(path, url)
        assert not waiting.try_lead()
        holder.kill()
        holder.wait()
        assert tries(waiting)  # the kernel (flock) or the server (session lock) freed it
        waiting.resign()
    finally:
        holder.kill()
        holder.wait()


def test_bot_role_without_a_token_says_so_and_exits_2(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.yaml", [])
    result = run_veille("run", "--role", "bot", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Error: --role bot needs a bot token: set TELEGRAM_BOT_TOKEN (or telegram.token)"]


def wait_until(condition: Callable[[], object], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_a_source_leased_by_another_worker_is_skipped(tmp_path: Path, httpserver: HTTPServer, redis_url: str,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    config_path = write_config(tmp_path / "config.yaml", [{"name": "a", "feed": httpserver.url_for("/rss.xml")}],
                               crawl={"interval": "1h", "queue": redis_url})
    service = Service(load(config_path), config_path, role="crawl")

    async def main() -> dict[str, str]:
        other = Leases(redis_url)
        other.me = "other:1"
        try:
            assert await other.take("source:a", 3600)
            with caplog.at_level(logging.DEBUG, logger="veille"):
                await service.crawl("a")
            return await other.holders()
        finally:
            await other.close()
            assert service.leases is not None
            await service.leases.close()

    try:
        assert asyncio.run(main()) == {"source:a": "other:1"}
    finally:
        service.archive.close()
    assert "source a: crawled by another worker this round, skipped" in caplog.text
    assert httpserver.log == [], "the feed was not fetched"


def test_a_lease_lasts_the_interval_or_until_the_next_cron_run(tmp_path: Path, redis_url: str) -> None:
    config_path = write_config(tmp_path / "config.yaml", [
        {"name": "every", "feed": "http://127.0.0.1:9/a", "interval": "20m"},
        {"name": "hourly", "feed": "http://127.0.0.1:9/b", "cron": "0 * * * *"}], crawl={"queue": redis_url})
    service = Service(load(config_path), config_path, role="crawl")
    every, hourly = service.config.sources

    async def seconds() -> tuple[float, float]:
        service.scheduler.start(paused=True)
        service.schedule()
        try:
            return service._lease_seconds(every, "source:every"), service._lease_seconds(hourly, "source:hourly")
        finally:
            service.scheduler.shutdown(wait=False)
            assert service.leases is not None
            await service.leases.close()

    try:
        interval, cron = asyncio.run(seconds())
    finally:
        service.archive.close()
    assert interval == 1200
    assert 0 < cron <= 3600


def test_one_crawler_and_two_deliverers_on_one_sqlite_file_alert_each_article_once(
        tmp_path: Path, site: Site, fake_bot: FakeBotAPI) -> None:
    articles = [Article(f"a{n}", f"SecNumCloud : annonce {n}", distinct_text(n), recent(1)) for n in range(20)]
    config = write_config(tmp_path / "config.yaml", [
        {"name": f"s{n}", "feed": site.feed(f"/s{n}.xml", [a])} for n, a in enumerate(articles)],
        [{"name": "cloud", "keywords": ["SecNumCloud"], "chats": [5001]}], alerts={"max_per_hour": 1000})
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env |= {"TELEGRAM_BOT_TOKEN": "1:ROLES", "TELEGRAM_API_URL": f"{fake_bot.url}/bot"}
    fake_bot.delay = 0.05  # both deliverers busy at once
    processes = [subprocess.Popen([*VEILLE, "run", "--role", role, "--config", str(config)], env=env, text=True,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
                 for role in ("crawl", "deliver", "deliver")]
    try:
        wait_until(lambda: len(fake_bot.sent()) >= 20, 120)
        status = json.loads(run_veille("status", "--json", "--config", str(config)).stdout)
        for process in processes:
            process.send_signal(signal.SIGTERM)
        errs = [process.communicate(timeout=60)[1] for process in processes]
    finally:
        for process in processes:
            process.kill()
    assert [p.returncode for p in processes] == [0, 0, 0], errs
    texts = sorted(c.params["text"] for c in fake_bot.sent())
    assert collections.Counter(re.findall(r"annonce (\d+)", "\n".join(texts))) == {str(n): 1 for n in range(20)}
    assert sorted(w["role"] for w in status["workers"]) == ["crawl", "deliver", "deliver"]
    assert "bot: leading" not in "".join(errs), "no bot candidate among them"


def test_status_shows_every_worker_and_which_are_gone(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.yaml", [])
    with Archive.open(tmp_path / "veille.db") as archive:
        archive.write_now(workers.beat, "web1:10", "crawl", "web1", 10)
        archive.write_now(workers.beat, "web2:20", "deliver", "web2", 20)
    age_beats((str(tmp_path / "veille.db"), None), "web2:20", 60)
    result = run_veille("status", "--config", str(config))
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("worker ")]
    assert len(lines) == 2
    assert lines[0].startswith("worker crawl    web1 pid 10, started ") and "GONE" not in lines[0]
    assert lines[1].startswith("worker deliver  web2 pid 20") and lines[1].endswith("GONE (3 heartbeats missed)")
    listed = json.loads(run_veille("status", "--json", "--config", str(config)).stdout)["workers"]
    assert [(w["worker"], w["role"], w["gone"]) for w in listed] == [("web1:10", "crawl", False),
                                                                   ("web2:20", "deliver", True)]
