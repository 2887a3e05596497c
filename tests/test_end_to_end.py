"""The whole path, through the real `veille` command: feed → page → archive → match → Telegram."""

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.conftest import (
    SOVEREIGN,
    UNRELATED,
    VEILLE,
    Article,
    Site,
    recent,
    run_veille,
    search_json,
    write_config,
)
from tests.fakebot import FakeBotAPI

TOKEN = "123456:TEST-token-never-printed"


def free_port() -> int:
    """A port of 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def attempted(config: Path, source: str) -> bool:
    status = json.loads(run_veille("status", "--json", "--config", str(config)).stdout)
    return any(s["name"] == source and s.get("last_attempt") for s in status["sources"])


def telegram_env(fake: FakeBotAPI) -> dict[str, str]:
    return {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": f"{fake.url}/bot"}


def test_crawl_alerts_matching_article_once_through_telegram(tmp_path: Path, site: Site,
                                                            fake_bot: FakeBotAPI) -> None:
    feed = site.feed("/rss.xml", [SOVEREIGN, UNRELATED])
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": feed}])

    first = run_veille("crawl", "--config", str(config), env=telegram_env(fake_bot))
    assert first.returncode == 0, first.stderr
    sent = fake_bot.sent()
    assert len(sent) == 1
    assert sent[0].params["chat_id"] == "-1001"
    assert SOVEREIGN.title.replace("'", "&#x27;") in sent[0].params["text"]
    assert sent[0].params["parse_mode"] == "HTML"
    assert sent[0].token == TOKEN

    second = run_veille("crawl", "--config", str(config), env=telegram_env(fake_bot))
    assert second.returncode == 0, second.stderr
    assert len(fake_bot.sent()) == 1, "a second crawl with nothing new must send nothing"
    for output in (first.stdout, first.stderr, second.stdout, second.stderr):
        assert TOKEN not in output


def test_search_finds_the_extracted_main_text_accent_insensitively(tmp_path: Path, site: Site) -> None:
    feed = site.feed("/rss.xml", [SOVEREIGN, UNRELATED])
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": feed}])
    assert run_veille("crawl", "--config", str(config)).returncode == 0

    # "qualifiees" is only in the page's body (not in the feed summary), and written with an accent
    results = search_json(config, "qualifiees")
    assert [r["url"] for r in results] == [f"{site.url}/articles/{SOVEREIGN.slug}"], "the canonical link"
    assert {"url", "title", "source", "published", "snippet"} <= results[0].keys()
    assert results[0]["source"] == "journal"
    assert results[0]["title"] == SOVEREIGN.title
    assert search_json(config, "Cantal")[0]["title"] == UNRELATED.title
    assert search_json(config, "football") == [], "the sidebar is not part of the article"


def test_console_delivery_without_a_token(tmp_path: Path, site: Site) -> None:
    feed = site.feed("/rss.xml", [SOVEREIGN, UNRELATED])
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": feed}])
    result = run_veille("crawl", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert SOVEREIGN.title in result.stdout
    assert UNRELATED.title not in result.stdout
    assert "#cloud-souverain" in result.stdout


def test_articles_older_than_max_age_are_archived_never_alerted(tmp_path: Path, site: Site,
                                                                 fake_bot: FakeBotAPI) -> None:
    old = Article("ancien", "SecNumCloud : la première qualification", SOVEREIGN.body, recent(24 * 5))
    feed = site.feed("/rss.xml", [old, SOVEREIGN])
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": feed}])
    result = run_veille("crawl", "--config", str(config), env=telegram_env(fake_bot))
    assert result.returncode == 0, result.stderr
    texts = [c.params["text"] for c in fake_bot.sent()]
    assert len(texts) == 1 and "première qualification" not in texts[0]
    assert [r["title"] for r in search_json(config, "première")] == [old.title]


def test_a_dead_source_is_reported_and_never_stops_the_others(tmp_path: Path, site: Site) -> None:
    feed = site.feed("/rss.xml", [SOVEREIGN])
    dead = f"http://127.0.0.1:{free_port()}/rss.xml"
    config = write_config(tmp_path / "config.yaml", [{"name": "dead", "feed": dead},
                                                     {"name": "journal", "feed": feed}])
    result = run_veille("crawl", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert SOVEREIGN.title in result.stdout
    assert result.stderr.count("source dead:") == 1, result.stderr
    assert "veille crawl: 2 sources, 1 topic; archive " in result.stderr, "the banner"
    assert "alerts to the console (no TELEGRAM_BOT_TOKEN set)" in result.stderr
    assert "1 source ok, 1 failing (dead), 1 new article, 1 alert sent" in result.stderr, "the summary"
    assert "is the network up?" not in result.stderr
    (tmp_path / "offline").mkdir()
    offline = write_config(tmp_path / "offline" / "config.yaml", [{"name": "dead", "feed": dead},
                                                       {"name": "gone", "feed": dead.replace("rss", "atom")}])
    alone = run_veille("crawl", "--config", str(offline))
    assert "0 sources ok, 2 failing (dead, gone)" in alone.stderr and "is the network up?" in alone.stderr
    status = json.loads(run_veille("status", "--json", "--config", str(config)).stdout)
    by_name = {s["name"]: s for s in status["sources"]}
    assert by_name["dead"]["consecutive_failures"] == 1
    assert "Connection" in by_name["dead"]["last_error"]
    assert by_name["journal"]["last_error"] is None
    assert by_name["journal"]["items_new"] == 1


def test_run_serves_until_interrupted_and_exits_cleanly(tmp_path: Path, site: Site,
                                                        fake_bot: FakeBotAPI) -> None:
    feed = site.feed("/rss.xml", [SOVEREIGN])
    dead = f"http://127.0.0.1:{free_port()}/rss.xml"
    config = write_config(tmp_path / "config.yaml", [{"name": "dead", "feed": dead},
                                                     {"name": "journal", "feed": feed}])
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")} | telegram_env(fake_bot)
    service = subprocess.Popen([*VEILLE, "run", "--config", str(config)], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not fake_bot.sent() and time.monotonic() < deadline and service.poll() is None:
            time.sleep(0.2)
        assert len(fake_bot.sent()) == 1
        while time.monotonic() < deadline and not attempted(config, "dead"):
            time.sleep(0.2)
        service.send_signal(signal.SIGINT)
        out, err = service.communicate(timeout=30)
    finally:
        service.kill()
    assert service.returncode == 0, err
    assert err.count("source dead:") == 1, err
    assert TOKEN not in out + err
