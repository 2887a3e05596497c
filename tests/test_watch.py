"""Watched pages on built inputs: the watched lines, the diff, the alert's summary, the config, storage."""

import json

import pytest
import sqlite_utils
from pydantic import ValidationError

from alerts.format import alert_message
from crawler.config import Source
from crawler.watch import CHANGE_LINES, Change, change_summary, diff, normalised, page_title, watched_lines
from storage import watch
from storage.db import open_archive
from storage.records import QueuedAlert

PAGE = """<html><head><title> Offres
 qualifiées </title><style>td {color: red}</style></head><body>
<nav>Accueil</nav><h1>Liste</h1><p>Mis à jour le <b>03/12/2026</b>\x07 à 10:00</p>
<table id="offres"><tr><th>Prestataire</th><th>Visa</th></tr>
<tr><td>OVHcloud</td><td>SecNumCloud</td></tr><tr><td>Outscale</td><td>SecNumCloud</td></tr></table>
<script>var token = "abc";</script></body></html>"""


def test_lines_are_blocks_normalised_without_scripts() -> None:
    assert watched_lines(PAGE) == ["Accueil", "Liste", "Mis à jour le 03/12/2026 à 10:00", "Prestataire | Visa",
                                   "OVHcloud | SecNumCloud", "Outscale | SecNumCloud"]


def test_select_keeps_only_the_selected_part() -> None:
    assert watched_lines(PAGE, "#offres") == ["Prestataire | Visa", "OVHcloud | SecNumCloud",
                                              "Outscale | SecNumCloud"]
    assert watched_lines(PAGE, ".absent") == []


def test_normalised_and_title() -> None:
    assert normalised("  a\u00a0\tb\x00c\n ") == "a b c"
    assert page_title(PAGE) == "Offres qualifiées"


def test_a_changed_line_is_one_removed_and_one_added() -> None:
    assert diff(["a", "b", "c"], ["a", "B", "c"]) == Change(["B"], ["b"])
    assert not diff(["a", "b"], ["a", "b"])


def test_only_ignored_parts_changed_is_no_change_and_the_shown_line_is_whole() -> None:
    stamp = [r"\d\d/\d\d/\d{4}"]
    assert not diff(["Mis à jour le 03/12/2026", "x"], ["Mis à jour le 04/12/2026", "x"], stamp)
    assert diff(["le 03/12/2026"], ["le 04/12/2026 (révisé)"], stamp) == Change(["le 04/12/2026 (révisé)"],
                                                                                 ["le 03/12/2026"])
    assert not diff(["x", "Visites : 12"], ["x"], [r"Visites : \d+"]), "a line that was only churn"


def test_an_added_row_keeps_page_order() -> None:
    assert diff(["h", "a", "c"], ["h", "a", "b", "c", "d"]) == Change(["b", "d"], [])


def test_the_summary_is_bounded() -> None:
    many = [f"ligne {i}" for i in range(CHANGE_LINES + 5)]
    summary = change_summary(many, ["x" * 500])
    assert summary[0] == "+ ligne 0" and summary[CHANGE_LINES] == "+ … 5 more lines"
    assert summary[-1].startswith("- x") and len(summary[-1]) <= 2 + 200 + 2


def test_config_of_a_watch() -> None:
    source = Source(name="w", watch="https://example.org/offres", select="main table", ignore=[r"\d+"], chats=[-1])
    assert source.kind == "watch" and source.url == "https://example.org/offres"
    with pytest.raises(ValidationError, match="select: applies to watch: sources only"):
        Source(name="f", feed="https://example.org/rss", select="main")
    with pytest.raises(ValidationError, match="ignore: '\\(' is not a valid regular expression"):
        Source(name="w", watch="https://example.org/", ignore=["("])
    with pytest.raises(ValidationError, match="select: is not a valid CSS selector"):
        Source(name="w", watch="https://example.org/", select="main[")


@pytest.fixture
def db() -> sqlite_utils.Database:
    return open_archive(":memory:")


def test_the_first_version_is_a_baseline_and_a_change_an_article_with_the_watch_alerts(
        db: sqlite_utils.Database) -> None:
    url = "https://example.org/offres"
    first = watch.record_version(db, "w", url, "Offres", ["a"], [], [], [-5])
    assert first.number == 1 and first.article_id is None
    assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == 0
    second = watch.record_version(db, "w", url, "Offres", ["b"], ["b"], ["a"], [-5], ["+ b", "- a"])
    article = db.table("articles").get(second.article_id)
    assert (article["canonical_url"], article["title"], article["text"]) == (f"{url}#version-2-w", "Changed: Offres",
                                                                              "b")
    assert [(r["topic"], r["chat_id"]) for r in db.query("SELECT * FROM outbox")] == [("w", -5)]
    assert json.loads(db.execute("SELECT terms FROM matches").fetchone()[0]) == ["+ b", "- a"]
    assert [v.number for v in watch.history(db, "w")] == [2, 1]
    assert watch.latest(db, "w") == watch.history(db, "w")[0]


def test_gone_is_reported_once_after_three_checks_and_counted_again_after_a_return(db: sqlite_utils.Database) -> None:
    url = "https://example.org/offres"
    watch.record_version(db, "w", url, "Offres", ["a"], [], [], [-5])
    assert [watch.record_gone(db, "w", url, 404, [-5]) for _ in range(5)] == [False, False, True, False, False]
    titles = [r["title"] for r in db.query("SELECT title FROM articles")]
    assert titles == ["Gone: Offres"]
    watch.record_version(db, "w", url, "Offres", ["a"], [], [], [-5])  # back (unchanged versions are not kept)
    assert watch.record_gone(db, "w", url, 410, [-5]) is False


def test_the_change_alert_shows_the_diff_and_links_the_page() -> None:
    alert = QueuedAlert(title="Changed: Offres", url="https://example.org/offres#version-2", source="w", topic="w",
                        text="OVHcloud <b>", terms=("+ OVHcloud <b>", "- Outscale"))
    message = alert_message(alert, list(alert.terms), "Europe/Paris")
    assert '<a href="https://example.org/offres">Changed: Offres</a>' in message.html
    assert "+ OVHcloud &lt;b&gt;\n- Outscale" in message.html
    topic_alert = QueuedAlert(title="Changed: Offres", url=alert.url, source="w", topic="cloud", text="S3NS\nBleu",
                              terms=("S3NS",))
    assert "+ S3NS\n+ Bleu" in alert_message(topic_alert, ["S3NS"], "Europe/Paris").plain


def test_each_change_is_news_even_when_it_repeats_or_resembles_the_last(db: sqlite_utils.Database) -> None:
    url = "https://example.org/offres"
    long = "La liste des prestataires qualifiés SecNumCloud pour les offres de cloud de confiance, avec leur date. " * 3
    watch.record_version(db, "w", url, "Offres", ["a"], [], [], [-5])
    for added in ("Bleu | " + long, "S3NS | " + long, "Bleu | " + long):  # similar, then the same line again
        watch.record_version(db, "w", url, "Offres", ["a"], [added], [], [-5])
    assert len({r["story_id"] for r in db.query("SELECT story_id FROM articles")}) == 3
    assert db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 3
