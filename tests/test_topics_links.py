"""`veille topics test` links each match to its canonical URL, as search and alerts do, not to the URL fetched."""

from pathlib import Path

from storage import open_archive
from storage.articles import store
from tests.conftest import recent, run_veille, write_config

FETCHED = "https://ex.test/bleu?utm_source=rss&xtor=RSS-1"
CANONICAL = "https://ex.test/bleu"


def test_topic_test_prints_the_canonical_link(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.yaml", [{"name": "lemagit", "feed": "http://127.0.0.1:9/f"}],
                          [{"name": "bleu", "keywords": ["Bleu"]}])
    store(open_archive(tmp_path / "veille.db"),
          {"source": "lemagit", "url": FETCHED, "canonical_url": CANONICAL, "title": "Bleu obtient SecNumCloud",
           "text": "La coentreprise Bleu est qualifiée.", "published": recent(5).isoformat(), "language": "fr"})
    result = run_veille("topics", "test", "bleu", "--config", str(config), "--since", "7d")
    assert result.returncode == 0, result.stderr
    assert f"{'':12}{CANONICAL}\n" in result.stdout
    assert "utm_source" not in result.stdout
