"""What a crawl says: banner, progress bar, summary, and the hint when every source fails (built reports)."""

import io
import logging
from pathlib import Path

import pytest

from crawler import CrawlReport
from tests.conftest import write_config
from veille import progress
from veille.config import load
from veille.service import Service


def report(name: str, new: int = 0, error: str | None = None, skipped: str | None = None) -> CrawlReport:
    return CrawlReport(name, new, new, error, 0.1, skipped_until=skipped)


def test_the_summary_counts_sources_articles_and_alerts() -> None:
    counter = progress.CrawlProgress(4, terminal=False)
    for r in (report("a", 3), report("b", error="timeout"), report("c", 1), report("d", skipped="2026-12-03")):
        counter.finished(r)
    counter.alerts_sent = 2
    assert counter.summary().endswith(": 2 sources ok, 1 failing (b), 1 backing off, 4 new articles, 2 alerts sent")


def test_the_hint_comes_only_when_every_crawled_source_failed() -> None:
    assert progress.failing_hint([report("a", error="x"), report("b", error="y")]) == progress.ALL_FAILING
    assert progress.failing_hint([report("a", error="x"), report("b")]) is None
    assert progress.failing_hint([report("a", error="x"), report("b", skipped="later")]) == progress.ALL_FAILING
    assert progress.failing_hint([]) is None


def test_the_banner_says_where_alerts_go_and_when_rounds_come(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    config = load(write_config(tmp_path / "config.yaml", [
        {"name": "a", "feed": "http://127.0.0.1:9/a"}, {"name": "b", "feed": "http://127.0.0.1:9/b", "interval": "4h"},
        {"name": "c", "feed": "http://127.0.0.1:9/c", "cron": "0 8 * * 1-5"}]))
    line = progress.banner(config, "running")
    assert line.startswith("veille running: 3 sources, 1 topic; archive ") and str(config.storage.path) in line
    assert line.endswith("alerts to the console (no TELEGRAM_BOT_TOKEN set)")
    assert progress.rounds(config) == "first round within 5s, then every 1h to 4h and 1 on their cron line"
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:" + "x" * 30)
    assert progress.destination(config) == "Telegram, chats -1001"


def test_on_a_terminal_log_lines_print_above_the_bar_and_the_handler_gets_its_stream_back() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with progress.CrawlProgress(2, terminal=True) as counter:
            assert handler.stream is not stream, "lines go through the bar's console while it is drawn"
            counter.finished(report("a", 1))
        assert handler.stream is stream
    finally:
        root.removeHandler(handler)


def test_run_says_once_that_every_source_is_failing_and_once_that_one_works_again(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config_path = write_config(tmp_path / "config.yaml", [{"name": "a", "feed": "http://127.0.0.1:9/a"},
                                                          {"name": "b", "feed": "http://127.0.0.1:9/b"}])
    service = Service(load(config_path), config_path)
    try:
        with caplog.at_level(logging.INFO, logger="veille"):
            service._failing(report("a", error="refused"))
            assert "network up" not in caplog.text, "b has not been tried yet"
            for _ in range(3):
                service._failing(report("b", error="refused"))
                service._failing(report("a", error="refused"))
            assert caplog.text.count("is the network up?") == 1
            service._failing(report("b", 2))
            assert "not every source is failing any more" in caplog.text
    finally:
        service.archive.close()
