"""Roles' foundations on both backends: heartbeats (storage.workers) and the bot's leader (storage.leader),
a leader killed with SIGKILL included, and `veille run --role` as a user starts it."""

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import sqlite_utils

from storage import Archive, leader, workers
from storage.leader import Leadership
from tests.conftest import run_veille, write_config

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
