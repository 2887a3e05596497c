"""`veille topics test` and `veille topics explain`, run as the real command over a real archive."""

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from alerts.config import Topic
from alerts.matcher import match_pending
from storage import open_archive
from storage.articles import store
from tests.conftest import port, recent, run_veille, write_config

ARTICLES = [
    ("lemagit", "https://ex.test/bleu", "Bleu obtient SecNumCloud",
     "La coentreprise d'Orange et Capgemini obtient la qualification de l'ANSSI pour ses clouds souverains."),
    ("lemagit", "https://ex.test/foot", "Le bleu du maillot",
     "L'équipe de football change de maillot, un bleuet brodé sur la poitrine."),
    ("cnil", "https://ex.test/cnil", "La CNIL et le cloud souverain",
     "Le régulateur publie ses recommandations sur le cloud souverain des administrations."),
]


def archive(tmp_path: Path, topic: dict[str, Any]) -> Path:
    config = write_config(tmp_path / "config.yaml",
                          [{"name": "lemagit", "feed": "http://127.0.0.1:9/f"},
                           {"name": "cnil", "feed": "http://127.0.0.1:9/g"}], [topic])
    db = open_archive(tmp_path / "veille.db")
    for source, url, title, text in ARTICLES:
        store(db, {"source": source, "url": url, "canonical_url": url, "title": title, "text": text,
                   "published": recent(5).isoformat(), "language": "fr"})
    return config


def test_topic_test_shows_matches_with_hits_and_counts(tmp_path: Path) -> None:
    config = archive(tmp_path, {"name": "bleu", "query": "Bleu AND (Orange OR Capgemini) OR souverain*"})
    result = run_veille("topics", "test", "bleu", "--config", str(config), "--since", "7d")
    assert result.returncode == 0, result.stderr
    assert "[Bleu] obtient SecNumCloud" in result.stdout
    assert "[Orange] et [Capgemini]" in result.stdout
    assert "https://ex.test/foot" not in result.stdout
    assert "bleu: 2 of 3 articles since" in result.stdout
    assert "(lemagit 1, cnil 1)" in result.stdout or "(cnil 1, lemagit 1)" in result.stdout


def test_topic_test_diff_against_the_running_rule(tmp_path: Path) -> None:
    old = {"name": "cs", "keywords": ["cloud souverain"], "chats": [1]}
    config = archive(tmp_path, {**old, "sources": ["lemagit"]})
    running = port(open_archive(tmp_path / "veille.db"))
    asyncio.run(match_pending(running, [Topic.model_validate(old)], timedelta(hours=48)))
    result = run_veille("topics", "test", "cs", "--config", str(config), "--diff")
    assert result.returncode == 0, result.stderr
    assert "- " in result.stdout and "https://ex.test/cnil" in result.stdout
    assert "+0 added, -1 removed" in result.stdout


def test_topic_explain_says_why(tmp_path: Path) -> None:
    config = archive(tmp_path, {"name": "bleu", "keywords": ["Bleu"], "exclude": ["football"]})
    result = run_veille("topics", "explain", "bleu", "https://ex.test/foot", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "bleu does not match" in result.stdout
    assert "yes term 'Bleu': found in title word 2" in result.stdout
    assert "yes term 'football': found in text word" in result.stdout
    result = run_veille("topics", "explain", "bleu", "https://ex.test/bleu", "--config", str(config))
    assert "bleu MATCHES" in result.stdout and "title: [Bleu] obtient SecNumCloud" in result.stdout


def test_unknown_topic_or_url_is_a_one_line_error(tmp_path: Path) -> None:
    config = archive(tmp_path, {"name": "bleu", "keywords": ["Bleu"]})
    result = run_veille("topics", "explain", "bleu", "https://ex.test/nope", "--config", str(config))
    assert result.returncode == 1 and "no article with the URL" in result.stderr
    assert "Traceback" not in result.stderr
    result = run_veille("topics", "test", "nope", "--config", str(config))
    assert result.returncode == 1 and "no topic named 'nope'" in result.stderr
