"""What is shown is right: canonical links, times in alerts.timezone, the console alert, the terminal table."""

import asyncio
import csv
import io
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlite_utils
from click.testing import CliRunner
from rich.text import Text

from alerts.dispatcher import ConsoleSender, dispatch
from alerts.format import Message, alert_message
from storage import articles, health, matches, outbox
from storage.db import open_archive
from storage.search import search, search_all
from tests.conftest import SOVEREIGN, Site, port, run_veille, write_config
from veille.archive_output import results_lines, results_table
from veille.cli import main

TRACKED = "https://journal.example/cloud-souverain?utm_source=rss&utm_medium=feed"
CLEAN = "https://journal.example/cloud-souverain"


class Recorder:
    """A sender keeping what it was given, as Telegram would receive it."""

    def __init__(self) -> None:
        self.sent: list[Message] = []

    async def send(self, chat_id: int, message: Message) -> int | None:
        self.sent.append(message)
        return len(self.sent)


def tracked_archive(tmp_path: Path, *, alert: bool = False) -> sqlite_utils.Database:
    """An archive holding one article fetched through a tracking link, matched by cloud-souverain."""
    db = open_archive(tmp_path / "veille.db")
    item = {"source": "journal", "url": TRACKED, "canonical_url": CLEAN, "guid": "a1",
            "title": "Le cloud souverain avance", "published": "2026-11-20T09:05:00+00:00",
            "text": "Premier point.\nLe cloud souverain\n  progresse vite. Fin.", "full_text": True}
    article = articles.get(db, articles.store(db, item).article_id)
    outbox.record_matches(db, article, [outbox.Match("cloud-souverain", ["cloud souverain"], [-1001])],
                          alert=alert)
    return db


def test_search_export_and_latest_give_the_canonical_link(tmp_path: Path) -> None:
    db = tracked_archive(tmp_path)
    assert [r["url"] for r in search(db, "souverain")] == [CLEAN]
    assert [r["url"] for r in search_all(db, "souverain")] == [CLEAN]
    assert [r["url"] for r in search_all(db, "")] == [CLEAN]
    assert [r["url"] for r in matches.latest(db)] == [CLEAN]


def test_alerts_link_the_canonical_url_on_telegram_and_the_console(tmp_path: Path) -> None:
    db = tracked_archive(tmp_path, alert=True)
    telegram = Recorder()
    asyncio.run(dispatch(port(db), telegram, "Europe/Paris"))
    assert len(telegram.sent) == 1
    assert f'href="{CLEAN}"' in telegram.sent[0].html and "utm_" not in telegram.sent[0].html
    assert CLEAN in telegram.sent[0].plain and "utm_" not in telegram.sent[0].plain
    db.execute("UPDATE outbox SET state = 'pending'")
    db.conn.commit()
    printed = io.StringIO()
    asyncio.run(dispatch(port(db), ConsoleSender(printed), "Europe/Paris"))
    assert CLEAN in printed.getvalue() and "utm_" not in printed.getvalue()


def cli(tmp_path: Path, *args: str, **sections: Any) -> str:
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": "http://127.0.0.1:9/feed"}],
                          **sections)
    result = CliRunner().invoke(main, [*args, "--config", str(config)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_veille_search_and_export_print_the_canonical_link(tmp_path: Path) -> None:
    tracked_archive(tmp_path)
    found = json.loads(cli(tmp_path, "search", "souverain", "--json"))
    assert [r["url"] for r in found] == [CLEAN]
    assert [r["url"] for r in csv.DictReader(io.StringIO(cli(tmp_path, "search", "souverain", "--csv")))] == [CLEAN]
    plain = cli(tmp_path, "search", "souverain")
    assert CLEAN in plain and "utm_" not in plain
    exported = cli(tmp_path, "export", "--format", "jsonl")
    assert [json.loads(line)["url"] for line in exported.splitlines()] == [CLEAN]


def alert(**changes: Any) -> Message:
    row = {"title": "Le cloud souverain avance", "url": CLEAN, "source": "journal",
           "published": "2026-11-20T09:05:00+00:00", "topic": "cloud-souverain",
           "text": "Le cloud souverain avance\nPremier point sans rapport\nLe Cloud Souverain progresse vite. Fin.",
           **changes}
    return alert_message(row, ["cloud souverain"], "Europe/Paris")


def test_the_console_alert_shows_title_then_the_marked_sentence_then_source_time_and_link() -> None:
    printed = io.StringIO()
    asyncio.run(ConsoleSender(printed).send(-1001, alert()))
    lines = printed.getvalue().splitlines()
    assert lines[:5] == ["── alert for chat -1001", "Le cloud souverain avance",
                         "Le **Cloud Souverain** progresse vite.", "journal · 20/11/2026 10:05", CLEAN]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_hits_are_in_bold_reverse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    printed = Terminal()
    asyncio.run(ConsoleSender(printed).send(-1001, alert()))
    assert "Le \x1b[1;7mCloud Souverain\x1b[0m progresse vite." in printed.getvalue()
    assert "**" not in printed.getvalue()


RESULTS = [{"url": CLEAN, "title": "Le cloud\nsouverain avance", "source": "journal", "outlets": 3,
            "published": "2026-11-20T23:30:00+00:00",
            "snippet": "Premier point.\n\nLe [cloud]\n  [souverain] progresse"}]


def test_the_terminal_table_keeps_each_cell_on_its_lines_and_counts_the_outlets() -> None:
    table = results_table(RESULTS, width=120, timezone="Europe/Paris")
    plain = Text.from_ansi(table).plain
    assert "Premier point. Le cloud souverain progresse" in plain
    assert "Le cloud souverain avance" in plain
    assert "also in 2 other outlets" in plain
    assert "2026-11-21" in plain, "dated in alerts.timezone: 00:30 in Paris"
    assert all(line[0] in "┏┃┡│├└" for line in plain.splitlines()), plain


def test_plain_search_lines_hold_one_line_per_field_and_the_outlets() -> None:
    lines = results_lines(RESULTS, "Europe/Paris").splitlines()
    assert lines == ["2026-11-21  journal          Le cloud souverain avance", f"{'':12}{CLEAN}",
                     f"{'':12}Premier point. Le [cloud] [souverain] progresse", f"{'':12}also in 2 other outlets"]


def test_status_shows_times_in_alerts_timezone_with_its_abbreviation(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "veille.db")
    health.record_crawl(db, "journal", error="HTTP 503", seen=0, new=0)
    db.execute("UPDATE sources SET last_attempt = '2026-07-01T10:00:00+00:00', "
               "next_attempt = '2026-07-01T10:30:00+00:00'")
    db.conn.commit()
    paris = cli(tmp_path, "status", alerts={"timezone": "Europe/Paris"})
    assert "01/07/2026 12:00 CEST" in paris and "(next attempt 01/07/2026 12:30 CEST)" in paris
    tokyo = cli(tmp_path, "status", alerts={"timezone": "Asia/Tokyo"})
    assert "01/07/2026 19:00 JST" in tokyo and "10:00" not in tokyo
    assert "2026-07-01T10:00:00+00:00" in cli(tmp_path, "status", "--json"), "JSON keeps ISO times"


def test_sources_test_dates_articles_in_alerts_timezone_and_links_them_canonically(tmp_path: Path, site: Site) -> None:
    feed = site.feed("/rss.xml", [SOVEREIGN])
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": feed}],
                          alerts={"timezone": "Asia/Tokyo"})
    result = run_veille("sources", "test", "journal", "--config", str(config))
    assert result.returncode == 0, result.stderr
    expected = SOVEREIGN.published.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%d/%m/%Y %H:%M JST")
    first, link = result.stdout.splitlines()[:2]
    assert first.startswith(expected) and first.endswith(SOVEREIGN.title)
    assert link.strip() == f"{site.url}/articles/{SOVEREIGN.slug}", "the canonical link, without utm_source"
