"""`veille run` as an admin leaves it running: schedule, new articles, config reload, clean stop."""

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import (
    SOVEREIGN,
    VEILLE,
    Article,
    Site,
    article_page,
    distinct_text,
    recent,
    rss,
    run_veille,
    write_config,
)
from tests.fakebot import FakeBotAPI
from tests.test_end_to_end import free_port

TOKEN = "987654:SERVICE-token-never-printed"
NEW = Article("bleu-qualifie", "Bleu obtient la qualification SecNumCloud",
              ["La coentreprise d'Orange et Capgemini annonce la qualification SecNumCloud de son offre.",
               "Les premiers clients publics migreront au printemps."], recent(0.5))


class LiveFeed:
    """A feed whose articles can change while the service runs, counting how often it is fetched."""

    def __init__(self, site: Site, path: str, articles: list[Article]) -> None:
        self.articles = list(articles)
        self.fetches = 0
        self.site = site
        site.server.expect_request(path).respond_with_handler(self._serve)
        self.url = site.url + path
        for a in [*articles, NEW]:
            site.page(f"/articles/{a.slug}", article_page(a))

    def _serve(self, request: Request) -> Response:
        self.fetches += 1
        return Response(rss(self.site.url, self.articles), content_type="application/rss+xml")


class RunningService:
    """The real `veille run` in a subprocess."""

    def __init__(self, config: Path, env: dict[str, str], *args: str) -> None:
        self.config = config
        self.process = subprocess.Popen([*VEILLE, "run", "--config", str(config), *args], env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        stdin=subprocess.DEVNULL)

    def wait_for(self, condition: Callable[[], Any], seconds: float = 45) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return
            assert self.process.poll() is None, self.process.communicate()[1]
            time.sleep(0.2)
        raise AssertionError("timed out waiting for the service")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> tuple[str, str]:
        self.process.send_signal(sig)
        return self.process.communicate(timeout=timeout)

    def status(self) -> dict[str, dict[str, Any]]:
        result = run_veille("status", "--json", "--config", str(self.config))
        return {s["name"]: s for s in json.loads(result.stdout)["sources"]}


@pytest.fixture
def service_env(fake_bot: FakeBotAPI) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    yield env | {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": f"{fake_bot.url}/bot"}


def test_crawls_on_schedule_and_alerts_a_new_article_once(tmp_path: Path, site: Site, fake_bot: FakeBotAPI,
                                                          service_env: dict[str, str]) -> None:
    feed = LiveFeed(site, "/rss.xml", [SOVEREIGN])
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": feed.url, "interval": "2s"}])
    service = RunningService(config, service_env)
    try:
        service.wait_for(lambda: len(fake_bot.sent()) == 1)
        feed.articles.append(NEW)
        service.wait_for(lambda: len(fake_bot.sent()) == 2)
        fetches = feed.fetches
        service.wait_for(lambda: feed.fetches >= fetches + 2)
        out, err = service.stop()
    finally:
        service.process.kill()
    assert service.process.returncode == 0, err
    texts = [c.params["text"] for c in fake_bot.sent()]
    assert len(texts) == 2 and "Bleu obtient" in texts[1], "each article alerted exactly once"
    assert TOKEN not in out + err


def test_config_edits_add_a_source_and_invalid_edits_are_rejected(tmp_path: Path, site: Site,
                                                                  httpserver: HTTPServer,
                                                                  fake_bot: FakeBotAPI,
                                                                  service_env: dict[str, str]) -> None:
    first = LiveFeed(site, "/one.xml", [])
    second = LiveFeed(site, "/two.xml", [NEW])
    path = tmp_path / "config.yaml"
    write_config(path, [{"name": "one", "feed": first.url, "interval": "1h"}])
    service = RunningService(path, service_env)
    try:
        service.wait_for(lambda: first.fetches == 1)
        data = yaml.safe_load(path.read_text())
        data["sources"].append({"name": "two", "feed": second.url, "colour": "blue"})
        path.write_text(yaml.safe_dump(data))
        time.sleep(4)  # two config checks: the bad edit is seen and rejected
        assert second.fetches == 0
        assert service.process.poll() is None
        del data["sources"][1]["colour"]
        path.write_text(yaml.safe_dump(data))
        service.wait_for(lambda: len(fake_bot.sent()) == 1)
        _, err = service.stop()
    finally:
        service.process.kill()
    assert service.process.returncode == 0
    assert "config not reloaded" in err and "sources[1].colour: unknown key" in err
    assert "source two added" in err
    assert second.fetches >= 1


def test_sigterm_stops_cleanly_and_the_next_start_drains_the_outbox(tmp_path: Path, site: Site,
                                                                   fake_bot: FakeBotAPI,
                                                                   service_env: dict[str, str]) -> None:
    articles = [Article(f"souverain-{i}", f"Cloud souverain, épisode {i}", distinct_text(i), recent(1))
                for i in range(8)]
    feed = LiveFeed(site, "/rss.xml", articles)
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": feed.url}])
    fake_bot.delay = 1.0
    service = RunningService(config, service_env, "--grace", "2")
    try:
        service.wait_for(lambda: len(fake_bot.sent()) >= 2)
        started = time.monotonic()
        _, err = service.stop(signal.SIGTERM)
        stopped_in = time.monotonic() - started
    finally:
        service.process.kill()
    assert service.process.returncode == 0, err
    assert stopped_in < 15, "the grace period bounds the stop"
    assert len(fake_bot.sent()) < len(articles)
    fake_bot.delay = 0
    result = run_veille("crawl", "--config", str(config), env=service_env)
    assert result.returncode == 0, result.stderr
    titles = [c.params["text"].split("</a>")[0] for c in fake_bot.sent()]
    assert {a.title for a in articles} <= {t.split(">")[-1] for t in titles}
    assert len(titles) - len(set(titles)) <= 1, "at most the one message in flight is repeated"


def test_json_logs_metrics_and_sighup_reload(tmp_path: Path, site: Site, fake_bot: FakeBotAPI,
                                             service_env: dict[str, str]) -> None:
    feed = LiveFeed(site, "/rss.xml", [SOVEREIGN])
    path = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": feed.url}])
    port = free_port()
    service = RunningService(path, service_env, "--log-format", "json", "--metrics-port", str(port))
    try:
        service.wait_for(lambda: len(fake_bot.sent()) == 1)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        assert 'veille_crawls_total{source="journal"} 1.0' in metrics
        assert 'veille_items_new_total{source="journal"} 1.0' in metrics
        data = yaml.safe_load(path.read_text())
        data["topics"][0]["description"] = "changed, then SIGHUP"
        path.write_text(yaml.safe_dump(data))
        service.process.send_signal(signal.SIGHUP)
        time.sleep(1)
        _, err = service.stop()
    finally:
        service.process.kill()
    assert service.process.returncode == 0
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert any(entry["message"].startswith("source journal: 1 items, 1 new") for entry in lines)
    assert any(entry["message"].startswith("config reloaded") for entry in lines)
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in lines)
    assert TOKEN not in err


def test_telegram_down_at_start_then_back_delivers_the_queued_alerts(tmp_path: Path, site: Site,
                                                                   fake_bot: FakeBotAPI,
                                                                   service_env: dict[str, str]) -> None:
    feed = LiveFeed(site, "/rss.xml", [SOVEREIGN])
    path = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": feed.url}])
    fake_bot.script["getMe"] = [("500", None)]
    service = RunningService(path, service_env)
    try:
        service.wait_for(lambda: len(fake_bot.sent()) == 1)
        _, err = service.stop()
    finally:
        service.process.kill()
    assert "Telegram cannot be reached" in err
    assert "Telegram reachable again" in err
    assert service.process.returncode == 0


def test_a_slow_channel_does_not_hold_the_sources_next_rounds(tmp_path: Path, site: Site, fake_bot: FakeBotAPI,
                                                              service_env: dict[str, str]) -> None:
    feed = LiveFeed(site, "/rss.xml", [SOVEREIGN])
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": feed.url, "interval": "2s"}],
                          telegram={"timeout": "60s"})
    fake_bot.delay = 40.0  # each sendMessage answered after 40 s: delivery is under way the whole test
    service = RunningService(config, service_env, "--grace", "1")
    try:
        service.wait_for(lambda: feed.fetches >= 1)
        fetches = feed.fetches
        # rounds every 2 s go on while the alert is being sent; a crawl job awaiting its delivery would hold
        # the source's job 40 s, skipping its rounds
        service.wait_for(lambda: feed.fetches >= fetches + 3, seconds=30)
        _, err = service.stop()
    finally:
        service.process.kill()
    assert "source:journal is still running" not in err
    assert "Traceback" not in err, err
