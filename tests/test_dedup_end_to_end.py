"""Through the real `veille crawl`: a story carried by two outlets alerts once; page canonicals are kept."""

import sqlite3
from pathlib import Path

from pytest_httpserver import HTTPServer

from tests.conftest import SOVEREIGN, Article, Site, article_page, recent, rss, run_veille, write_config

REWRITE = Article(
    "doctrine-cloud-reprise",
    "Cloud : l'État durcit sa doctrine pour les administrations",
    ["Par notre rédaction, avec AFP.", *SOVEREIGN.body,
     "Contacté, le syndicat professionnel n'a pas souhaité commenter ces annonces."],
    recent(1))


def test_a_story_carried_by_two_sources_is_alerted_once(tmp_path: Path, site: Site) -> None:
    first = site.feed("/premier.xml", [SOVEREIGN])
    second = site.feed("/second.xml", [REWRITE])
    config = write_config(tmp_path / "config.yaml", [{"name": "premier", "feed": first},
                                                      {"name": "second", "feed": second}])
    result = run_veille("crawl", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("#cloud-souverain") == 1, result.stdout
    with sqlite3.connect(tmp_path / "veille.db") as db:
        rows = db.execute("SELECT source, story_id FROM articles ORDER BY source").fetchall()
    assert [r[0] for r in rows] == ["premier", "second"]
    assert rows[0][1] == rows[1][1]


def test_the_pages_canonical_is_stored_and_the_feed_link_is_not_fetched_again(
        tmp_path: Path, site: Site, httpserver: HTTPServer) -> None:
    page = article_page(SOVEREIGN).replace(
        "<head>", f"<head><link rel='canonical' href='{site.url}/cloud/doctrine?utm_medium=x'>")
    httpserver.expect_request("/rss.xml").respond_with_data(rss(site.url, [SOVEREIGN]),
                                                            content_type="application/rss+xml")
    site.page(f"/articles/{SOVEREIGN.slug}", page)
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": f"{site.url}/rss.xml"}],
                          crawl={"interval": "1h", "timeout": "5s", "delay": "0s", "tracking_params": ["ref"]})
    for _ in range(2):
        result = run_veille("crawl", "--config", str(config))
        assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "veille.db") as db:
        stored = db.execute("SELECT canonical_url FROM articles").fetchall()
    assert stored == [(f"{site.url}/cloud/doctrine",)]
    fetched = [req.path for req, _ in httpserver.log if req.path.startswith("/articles/")]
    assert fetched == [f"/articles/{SOVEREIGN.slug}"]


def test_a_second_source_carrying_a_held_article_is_recorded_and_alerts_nothing(
        tmp_path: Path, site: Site, httpserver: HTTPServer) -> None:
    first = site.feed("/premier.xml", [SOVEREIGN])
    second = site.feed("/second.xml", [SOVEREIGN])
    alerts = 0
    for name, feed in (("premier", first), ("second", second)):  # one crawl each, the second one later
        config = write_config(tmp_path / "config.yaml", [{"name": name, "feed": feed}])
        result = run_veille("crawl", "--config", str(config))
        assert result.returncode == 0, result.stderr
        alerts += result.stdout.count("#cloud-souverain")
    assert alerts == 1
    with sqlite3.connect(tmp_path / "veille.db") as db:
        carried = db.execute("SELECT article_id, source FROM article_sources ORDER BY seen_at, source").fetchall()
    assert carried == [(1, "premier"), (1, "second")]
    fetched = [req.path for req, _ in httpserver.log if req.path.startswith("/articles/")]
    assert fetched == [f"/articles/{SOVEREIGN.slug}"]
