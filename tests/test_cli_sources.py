"""`veille sources discover` and `veille sources test`, through the real command line."""

import sqlite3
from pathlib import Path

import pytest
import yaml
from pytest_httpserver import HTTPServer

from crawler.discover import advertised_feeds, source_name
from tests.conftest import SOVEREIGN, UNRELATED, Site, run_veille, write_config

HOME = """<!doctype html><html><head><title>Le Journal</title>
<link rel="alternate" type="application/rss+xml" title="Le Journal : à la une" href="/rss.xml">
<link rel="alternate" type="application/atom+xml" title="Cloud" href="https://news.example/cloud.atom">
<link rel="alternate" type="application/feed+json" href="/feed.json">
<link rel="alternate" hreflang="en" href="/en/">
<link rel="stylesheet" type="text/css" href="/style.css">
</head><body><p>Bienvenue</p></body></html>"""


def test_advertised_feeds_are_the_alternate_links_of_feed_types() -> None:
    found = advertised_feeds(HOME, "https://journal.example/index.html")
    assert [(f.url, f.kind) for f in found] == [("https://journal.example/rss.xml", "RSS"),
                                                ("https://news.example/cloud.atom", "Atom"),
                                                ("https://journal.example/feed.json", "JSON Feed")]


def test_discover_prints_config_lines_ready_to_paste(tmp_path: Path, site: Site) -> None:
    site.page("/", HOME)
    result = run_veille("sources", "discover", f"{site.url}/", "--config", str(tmp_path / "none.yaml"))
    assert result.returncode == 0, result.stderr
    pasted = yaml.safe_load(result.stdout)
    assert pasted["sources"][0] == {"name": "le-journal-a-la-une", "feed": f"{site.url}/rss.xml"}
    assert len(pasted["sources"]) == 3


@pytest.mark.parametrize(("title", "name"), [
    ("Le Numérique Local", "le-numerique-local"),
    ("Œuvres & cœur de l'État", "oeuvres-coeur-de-l-etat"),
    ("Ça bouge à Besançon !", "ca-bouge-a-besancon"),
    ("Die Straße", "die-strasse"),
])
def test_discovered_source_names_fold_accents_and_ligatures(title: str, name: str) -> None:
    assert source_name(title, "https://www.news.example/rss") == name


def test_discover_lists_the_sitemaps_of_robots_txt(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data(
        "User-agent: *\nAllow: /\nSitemap: /sitemap-news.xml\n")
    httpserver.expect_request("/").respond_with_data(HOME, content_type="text/html")
    url = httpserver.url_for("/")
    result = run_veille("sources", "discover", url, "--config", str(tmp_path / "none.yaml"))
    assert result.returncode == 0, result.stderr
    pasted = yaml.safe_load(result.stdout)["sources"]
    assert pasted[-1]["sitemap"] == httpserver.url_for("/sitemap-news.xml")


def test_discover_recognises_a_url_that_is_itself_a_feed(tmp_path: Path, site: Site) -> None:
    feed = site.feed("/rss.xml", [SOVEREIGN])
    result = run_veille("sources", "discover", feed, "--config", str(tmp_path / "none.yaml"))
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["sources"][0]["feed"] == feed


def test_discover_says_when_a_page_advertises_no_feed(tmp_path: Path, site: Site) -> None:
    site.page("/", "<html><head></head><body>rien</body></html>")
    result = run_veille("sources", "discover", f"{site.url}/", "--config", str(tmp_path / "none.yaml"))
    assert result.returncode != 0
    assert "advertises no feed" in result.stderr and "Traceback" not in result.stderr


def test_source_test_shows_what_it_would_yield_without_storing(tmp_path: Path, site: Site) -> None:
    feed = site.feed("/rss.xml", [SOVEREIGN, UNRELATED])
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": feed}])
    result = run_veille("sources", "test", "journal", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert SOVEREIGN.title in result.stdout and UNRELATED.title in result.stdout
    assert "topics: cloud-souverain" in result.stdout
    assert "2 articles" in result.stdout
    db = tmp_path / "veille.db"
    if db.exists():
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM articles").fetchone() == (0,)
            assert conn.execute("SELECT count(*) FROM sources").fetchone() == (0,)
    by_url = run_veille("sources", "test", feed, "--config", str(config))
    assert by_url.returncode == 0 and "2 articles" in by_url.stdout


def test_source_test_reports_a_failing_source_in_one_line(tmp_path: Path, site: Site) -> None:
    site.page("/missing.xml", "gone", status=404)
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": f"{site.url}/missing.xml"}])
    result = run_veille("sources", "test", "journal", "--config", str(config))
    assert result.returncode == 1
    assert "HTTP 404" in result.stderr and "Traceback" not in result.stderr
    unknown = run_veille("sources", "test", "nope", "--config", str(config))
    assert unknown.returncode != 0 and "no source named 'nope'" in unknown.stderr
