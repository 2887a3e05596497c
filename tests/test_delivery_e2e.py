"""Delivery through the real `veille crawl`: killed mid-delivery, and a new source's backlog."""

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.conftest import (
    SOVEREIGN,
    VEILLE,
    Article,
    Site,
    distinct_text,
    recent,
    run_veille,
    search_json,
    write_config,
)
from tests.fakebot import FakeBotAPI

TOKEN = "123456:TEST-token-never-printed"


def telegram_env(fake: FakeBotAPI) -> dict[str, str]:
    return {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": f"{fake.url}/bot"}


def story(i: int, hours: float = 1) -> Article:
    """A distinct article about the sovereign cloud (distinct text, so never taken for a copy)."""
    return Article(f"cloud-{i}", f"Cloud souverain : épisode {i}", distinct_text(i), recent(hours))


def test_killed_mid_delivery_loses_nothing_and_repeats_at_most_one(tmp_path: Path, site: Site,
                                                                   fake_bot: FakeBotAPI) -> None:
    stories = [story(i) for i in range(20)]
    feed = site.feed("/rss.xml", stories)
    topic = {"name": "cloud", "keywords": ["cloud souverain"], "chats": [1001]}
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": feed}], [topic])
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")} | telegram_env(fake_bot)
    fake_bot.delay = 0.3  # Telegram accepting slowly: the kill lands in the middle of delivery
    crawl = subprocess.Popen([*VEILLE, "crawl", "--config", str(config)], env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(fake_bot.sent()) < 5 and time.monotonic() < deadline and crawl.poll() is None:
            time.sleep(0.05)
        crawl.send_signal(signal.SIGKILL)
        crawl.wait(timeout=10)
    finally:
        crawl.kill()
    before = len(fake_bot.sent())
    assert 5 <= before < 20, "the kill must land mid-delivery"

    fake_bot.delay = 0
    again = run_veille("crawl", "--config", str(config), env=telegram_env(fake_bot))
    assert again.returncode == 0, again.stderr
    texts = [c.params["text"] for c in fake_bot.sent()]
    counts = {s.slug: sum(f'/articles/{s.slug}"' in t for t in texts) for s in stories}
    assert all(n >= 1 for n in counts.values()), f"lost alerts: {counts}"
    assert sum(n - 1 for n in counts.values()) <= 1, f"repeated alerts: {counts}"


def test_a_source_added_later_alerts_only_within_max_age(tmp_path: Path, site: Site,
                                                         fake_bot: FakeBotAPI) -> None:
    first = site.feed("/first.xml", [SOVEREIGN])
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": first}])
    assert run_veille("crawl", "--config", str(config), env=telegram_env(fake_bot)).returncode == 0
    assert len(fake_bot.sent()) == 1

    backlog = [story(i, hours=24 * (3 + i)) for i in range(5)]
    fresh = story(99, hours=2)
    added = site.feed("/added.xml", [*backlog, fresh])
    write_config(config, [{"name": "journal", "feed": first}, {"name": "nouveau", "feed": added}])
    result = run_veille("crawl", "--config", str(config), env=telegram_env(fake_bot))
    assert result.returncode == 0, result.stderr
    texts = [c.params["text"] for c in fake_bot.sent()]
    assert len(texts) == 2 and fresh.slug in texts[1]
    assert len(search_json(config, "souverain", "--source", "nouveau")) == 6, "the backlog is archived"


def test_two_processes_on_one_archive_send_each_alert_once(tmp_path: Path, site: Site,
                                                            fake_bot: FakeBotAPI) -> None:
    stories = [story(i) for i in range(10)]
    topic = {"name": "cloud", "keywords": ["cloud souverain"], "chats": [1001]}
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": site.feed("/rss.xml", stories)}],
                          [topic])
    run_veille("crawl", "--config", str(config))  # stored and queued, on the console: no token yet
    with sqlite3.connect(tmp_path / "veille.db") as db:
        db.execute("UPDATE outbox SET state = 'pending', sent_at = NULL")  # due again, for Telegram
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")} | telegram_env(fake_bot)
    fake_bot.delay = 0.2  # slow enough that both processes are delivering at once
    both = [subprocess.Popen([*VEILLE, "crawl", "--config", str(config)], env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errors = [p.communicate(timeout=120)[1] for p in both]
    assert [p.returncode for p in both] == [0, 0], errors
    texts = [c.params["text"] for c in fake_bot.sent()]
    counts = {s.slug: sum(f'/articles/{s.slug}"' in t for t in texts) for s in stories}
    assert set(counts.values()) == {1}, f"each alert exactly once: {counts}"
