"""Site boilerplate left out of what topics match: a keyword in a sender's "About us" paragraph, repeated under
every press release, fires on none of them once the archive knows the paragraph; the archive keeps the text."""

import asyncio
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from alerts.config import Topic
from alerts.explain import explain
from alerts.format import alert_message
from alerts.matcher import Rule, match_pending
from storage import articles, open_archive, outbox, stories, topics
from tests.conftest import VOCABULARY, port
from veille.config import Config

ABOUT = "À propos de Nuage SAS : hébergeur qualifié SecNumCloud depuis 2022, Nuage sert 400 clients publics."
TOPIC = Topic(name="secnumcloud", keywords=["SecNumCloud"], chats=[1001])


def release(db: sqlite_utils.Database, n: int, *own: str, about_first: bool = False) -> int:
    """Press release n of the sender: paragraphs of its own, and the sender's standard paragraph (last, or
    first)."""
    rng = random.Random(n)
    body = [f"{' '.join(rng.sample(VOCABULARY, 14)).capitalize()} {n}-{p}." for p in range(3)]
    url = f"https://nuage.example/presse/{n}"
    row: dict[str, Any] = {"source": "nuage", "url": url, "canonical_url": url, "title": f"Communiqué {n}",
                           "text": "\n".join([ABOUT, *body, *own] if about_first else [*body, *own, ABOUT])}
    return articles.store(db, row).article_id


def test_a_keyword_only_in_the_sender_s_about_us_paragraph_alerts_on_no_release(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "veille.db")
    plain = [release(db, n) for n in range(4)]
    own = release(db, 4, "Nuage obtient le renouvellement de sa qualification SecNumCloud pour trois ans.")
    assert asyncio.run(match_pending(port(db), [TOPIC], timedelta(days=3650))) == 1, "only the release about it"
    matched = {row[0] for row in db.execute("SELECT article_id FROM matches")}
    assert matched == {own}
    assert all(ABOUT in articles.get(db, i)["text"] for i in plain), "the archive keeps the whole text"


def test_topics_test_and_explain_leave_the_same_paragraphs_out(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "veille.db")
    for n in range(4):
        release(db, n)
    article = topics.find_by_url(db, "https://nuage.example/presse/3")
    assert article is not None and ABOUT not in article["matching_text"] and ABOUT in article["text"]
    matched, lines = explain(Rule.compile(TOPIC), article)
    assert not matched
    assert any("boilerplate" in line for line in lines)
    assert all(ABOUT not in a["matching_text"] for a in topics.articles_since(db, "2000-01-01"))


def test_a_paragraph_seen_under_fewer_stories_than_the_threshold_still_counts(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "veille.db")
    first = release(db, 0)
    assert asyncio.run(match_pending(port(db), [TOPIC], timedelta(days=3650))) == 1, \
        "one release is not yet a pattern: its paragraph is matched"
    assert {row[0] for row in db.execute("SELECT article_id FROM matches")} == {first}


def test_the_number_of_stories_that_makes_boilerplate_is_configurable(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "veille.db")
    stories.configure(db, 0.6, boilerplate_stories=2)
    release(db, 0)
    release(db, 1)
    assert asyncio.run(match_pending(port(db), [TOPIC], timedelta(days=3650))) == 0, "two releases suffice"
    assert Config.model_validate({"dedup": {"boilerplate_stories": 2}}).dedup.boilerplate_stories == 2
    with pytest.raises(ValueError, match="greater than or equal to 2"):
        Config.model_validate({"dedup": {"boilerplate_stories": 1}})


def test_the_alert_quotes_the_article_not_its_boilerplate(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "veille.db")
    for n in range(3):
        release(db, n)
    release(db, 3, "Nuage ouvre une région SecNumCloud à Lyon.", about_first=True)
    asyncio.run(match_pending(port(db), [TOPIC], timedelta(days=3650)))
    (alert,) = outbox.pending(db)
    message = alert_message(alert, list(alert.terms), "Europe/Paris")
    assert "région SecNumCloud à Lyon" in message.plain and "400 clients" not in message.plain
