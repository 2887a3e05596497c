"""Each kind of source and each politeness rule, through the real `veille crawl` against local servers."""

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import SOVEREIGN, UNRELATED, Article, Site, article_page, recent, rss, run_veille, write_config


def stored(tmp_path: Path) -> dict[str, dict[str, Any]]:
    """The archived articles, by URL."""
    with sqlite3.connect(tmp_path / "veille.db") as conn:
        conn.row_factory = sqlite3.Row
        return {row["url"]: dict(row) for row in conn.execute("SELECT * FROM articles")}


def status(config: Path) -> dict[str, dict[str, Any]]:
    result = run_veille("status", "--json", "--config", str(config))
    assert result.returncode == 0, result.stderr
    return {s["name"]: s for s in json.loads(result.stdout)["sources"]}


def crawl(config: Path) -> str:
    result = run_veille("crawl", "--config", str(config))
    assert result.returncode == 0, result.stderr
    return result.stderr


def paths(server: HTTPServer) -> list[str]:
    return [request.path for request, _ in server.log]


def test_page_source_follows_links_and_next_pages_up_to_the_limit(tmp_path: Path, site: Site) -> None:
    cards = "".join(f"<div class='card'><a class='card__link' href='/articles/{a.slug}'>{a.title}</a></div>"
                    for a in (SOVEREIGN,))
    site.server.expect_request("/actualites/", query_string="page=2").respond_with_data(
        "<html><body>"
        f"<div class='card'><a class='card__link' href='/articles/{UNRELATED.slug}'>x</a></div>"
        "<a class='next' href='/actualites/?page=3'>Suivant</a></body></html>", content_type="text/html")
    site.page("/actualites/", f"<html><body><nav><a href='/cloud'>Cloud</a></nav>{cards}"
                              "<a class='next' href='/actualites/?page=2'>Suivant</a></body></html>")
    for article in (SOVEREIGN, UNRELATED):
        site.page(f"/articles/{article.slug}", article_page(article))
    config = write_config(tmp_path / "config.yaml", [{
        "name": "dinum", "page": f"{site.url}/actualites/", "links": "a.card__link", "follow": "a.next",
        "max_pages": 2}])
    crawl(config)
    found = stored(tmp_path)
    assert set(found) == {f"{site.url}/articles/{SOVEREIGN.slug}", f"{site.url}/articles/{UNRELATED.slug}"}
    assert all(a["full_text"] == 1 for a in found.values())
    # a listing page says little: author, date and language come from the article page
    article = found[f"{site.url}/articles/{SOVEREIGN.slug}"]
    assert article["author"] == "Claire Martin" and article["language"] == "fr"
    assert article["title"] == SOVEREIGN.title
    assert "/actualites/" in paths(site.server)
    assert [r.query_string for r, _ in site.server.log if r.path == "/actualites/"] == [b"", b"page=2"]
    assert "/cloud" not in paths(site.server), "only links: are followed"


def test_sitemap_index_and_news_sitemap_with_match_and_recent_entries(tmp_path: Path, site: Site) -> None:
    old = Article("vieux", "Un vieil article", SOVEREIGN.body, recent(24 * 30))
    for article in (SOVEREIGN, UNRELATED, old):
        site.page(f"/news/{article.slug}", article_page(article))
    site.page("/about", "<html><body><p>about</p></body></html>")
    news = "".join(f"<url><loc>{site.url}/news/{a.slug}</loc><news:news><news:publication><news:name>J"
                   f"</news:name><news:language>fr</news:language></news:publication><news:publication_date>"
                   f"{a.published.isoformat()}</news:publication_date><news:title>{a.title}</news:title>"
                   f"</news:news></url>" for a in (SOVEREIGN, UNRELATED, old))
    site.server.expect_request("/sitemap-news.xml").respond_with_data(
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{news}'
        f"<url><loc>{site.url}/about</loc></url></urlset>", content_type="application/xml")
    site.server.expect_request("/sitemap.xml").respond_with_data(
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{site.url}/sitemap-news.xml</loc></sitemap>"
        f"<sitemap><loc>{site.url}/sitemap-2019.xml</loc><lastmod>2019-01-01</lastmod></sitemap>"
        "</sitemapindex>", content_type="application/xml")
    config = write_config(tmp_path / "config.yaml", [{
        "name": "enisa", "sitemap": f"{site.url}/sitemap.xml", "match": "/news/", "recent": "7d"}])
    crawl(config)
    found = stored(tmp_path)
    assert set(found) == {f"{site.url}/news/{SOVEREIGN.slug}", f"{site.url}/news/{UNRELATED.slug}"}
    assert found[f"{site.url}/news/{SOVEREIGN.slug}"]["published"].startswith(SOVEREIGN.published.date().isoformat())
    assert "/sitemap-2019.xml" not in paths(site.server), "an old child sitemap is not read"
    assert "/about" not in paths(site.server) and f"/news/{old.slug}" not in paths(site.server)


def test_iso_8859_1_feed_and_page(tmp_path: Path, site: Site) -> None:
    article = Article("latin", "Cloud souverain : l'État accélère", ["Une réforme très attendue des opérateurs."
                      " Les données sensibles des ministères iront vers des offres qualifiées."] * 3, recent(1))
    site.server.expect_request("/latin.xml").respond_with_data(
        rss(site.url, [article]).replace("utf-8", "ISO-8859-1").encode("iso-8859-1"),
        content_type="application/rss+xml")
    site.server.expect_request(f"/articles/{article.slug}").respond_with_data(
        article_page(article).replace('charset="utf-8"', 'charset="iso-8859-1"').encode("iso-8859-1"),
        content_type="text/html; charset=iso-8859-1")
    config = write_config(tmp_path / "config.yaml", [{"name": "latin", "feed": f"{site.url}/latin.xml"}])
    crawl(config)
    (row,) = stored(tmp_path).values()
    assert row["title"] == article.title
    assert "réforme très attendue" in row["text"] and row["full_text"] == 1


def test_robots_txt_disallow_keeps_the_feed_text_without_fetching_the_page(tmp_path: Path,
                                                                            httpserver: HTTPServer) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /articles/\n")
    site = Site(httpserver)
    feed = site.feed("/rss.xml", [SOVEREIGN])
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": feed}])
    crawl(config)
    (row,) = stored(tmp_path).values()
    assert row["full_text"] == 0 and row["title"] == SOVEREIGN.title
    assert not [p for p in paths(httpserver) if p.startswith("/articles/")]


def test_second_crawl_sends_validators_and_304_means_nothing_new(tmp_path: Path, site: Site) -> None:
    body = rss(site.url, [SOVEREIGN])

    def feed(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304)
        return Response(body, content_type="application/rss+xml", headers={"ETag": '"v1"'})

    site.server.expect_request("/rss.xml").respond_with_handler(feed)
    site.page(f"/articles/{SOVEREIGN.slug}", article_page(SOVEREIGN))
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": f"{site.url}/rss.xml"}])
    crawl(config)
    crawl(config)
    feeds = [r for r, _ in site.server.log if r.path == "/rss.xml"]
    assert [r.headers.get("If-None-Match") for r in feeds] == [None, '"v1"']
    assert feeds[0].headers["User-Agent"].startswith("veille/"), "a User-Agent naming the project"
    assert paths(site.server).count(f"/articles/{SOVEREIGN.slug}") == 1
    health = status(config)["journal"]
    assert health["last_error"] is None and health["items_new"] == 1


def test_at_most_max_articles_pages_per_crawl(tmp_path: Path, site: Site) -> None:
    third = Article("troisieme", "Un troisième article", UNRELATED.body, recent(4))
    feed = site.feed("/rss.xml", [SOVEREIGN, UNRELATED, third])
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": feed, "max_articles": 2}])
    crawl(config)
    assert len(stored(tmp_path)) == 2
    assert len([p for p in paths(site.server) if p.startswith("/articles/")]) == 2


def test_huge_page_is_dropped_and_the_feed_text_kept(tmp_path: Path, site: Site) -> None:
    site.server.expect_request("/rss.xml").respond_with_data(rss(site.url, [SOVEREIGN]),
                                                             content_type="application/rss+xml")
    # a real article, padded to 20 MB: were it read, its main text would be kept
    padded = article_page(SOVEREIGN).replace("</body>", "<!--" + "x" * 20_000_000 + "--></body>")
    site.page(f"/articles/{SOVEREIGN.slug}", padded)
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": f"{site.url}/rss.xml"}])
    crawl(config)
    (row,) = stored(tmp_path).values()
    assert row["full_text"] == 0 and len(row["text"]) < 1000


@pytest.mark.parametrize("status_code", [404, 410, 403])
def test_an_article_page_in_error_keeps_the_feed_text_marked(tmp_path: Path, site: Site, status_code: int) -> None:
    site.server.expect_request("/rss.xml").respond_with_data(rss(site.url, [SOVEREIGN]),
                                                             content_type="application/rss+xml")
    site.page(f"/articles/{SOVEREIGN.slug}", "<html><body><p>Erreur</p></body></html>", status=status_code)
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": f"{site.url}/rss.xml"}])
    crawl(config)
    (row,) = stored(tmp_path).values()
    assert row["full_text"] == 0 and row["text"] == SOVEREIGN.body[0][:120]
    assert status(config)["journal"]["last_error"] is None, "a page in error is not the source's error"


def test_redirect_loop_ends_and_the_feed_text_is_kept(tmp_path: Path, site: Site) -> None:
    site.server.expect_request("/rss.xml").respond_with_data(rss(site.url, [SOVEREIGN]),
                                                             content_type="application/rss+xml")
    site.server.expect_request(f"/articles/{SOVEREIGN.slug}").respond_with_data(
        "", status=302, headers={"Location": "/loop-b"})
    site.server.expect_request("/loop-b").respond_with_data("", status=302,
                                                            headers={"Location": f"/articles/{SOVEREIGN.slug}"})
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": f"{site.url}/rss.xml"}])
    crawl(config)
    (row,) = stored(tmp_path).values()
    assert row["full_text"] == 0
    assert paths(site.server).count("/loop-b") <= 3, "at most a few redirects"


def test_503_with_retry_after_then_success(tmp_path: Path, site: Site) -> None:
    answers = iter([Response("busy", status=503, headers={"Retry-After": "1"})])
    body = rss(site.url, [SOVEREIGN])
    site.server.expect_request("/rss.xml").respond_with_handler(
        lambda _: next(answers, None) or Response(body, content_type="application/rss+xml"))
    site.page(f"/articles/{SOVEREIGN.slug}", article_page(SOVEREIGN))
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": f"{site.url}/rss.xml"}])
    crawl(config)
    assert paths(site.server).count("/rss.xml") == 2
    assert stored(tmp_path)[f"{site.url}/articles/{SOVEREIGN.slug}?utm_source=rss"]["full_text"] == 1
    assert status(config)["journal"]["last_error"] is None


def test_a_retry_after_longer_than_the_ceiling_is_not_waited_for(tmp_path: Path, site: Site) -> None:
    site.server.expect_request("/rss.xml").respond_with_data("busy", status=503, headers={"Retry-After": "3600"})
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": f"{site.url}/rss.xml"}])
    crawl(config)
    assert paths(site.server).count("/rss.xml") == 1
    assert "503" in status(config)["journal"]["last_error"]


def test_a_page_that_hangs_past_the_timeout_keeps_the_feed_text(tmp_path: Path, threaded: HTTPServer) -> None:
    site = Site(threaded)
    threaded.expect_request("/rss.xml").respond_with_data(rss(site.url, [SOVEREIGN, UNRELATED]),
                                                          content_type="application/rss+xml")
    threaded.expect_request(f"/articles/{SOVEREIGN.slug}").respond_with_handler(
        lambda _: time.sleep(4) or Response("late"))
    site.page(f"/articles/{UNRELATED.slug}", article_page(UNRELATED))
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": f"{site.url}/rss.xml"}],
                          crawl={"timeout": "1s", "delay": "0s", "retries": 0})
    crawl(config)
    found = stored(tmp_path)
    assert found[f"{site.url}/articles/{SOVEREIGN.slug}?utm_source=rss"]["full_text"] == 0
    assert found[f"{site.url}/articles/{UNRELATED.slug}?utm_source=rss"]["full_text"] == 1


def test_a_failing_source_backs_off_and_shows_it(tmp_path: Path, site: Site) -> None:
    site.server.expect_request("/rss.xml").respond_with_data("gone", status=404)
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": f"{site.url}/rss.xml"}])
    crawl(config)
    crawl(config)
    assert paths(site.server).count("/rss.xml") == 1, "the second crawl skips a source backing off"
    health = status(config)["journal"]
    assert health["consecutive_failures"] == 1 and health["next_attempt"]
    text = run_veille("status", "--config", str(config)).stdout
    assert "next attempt" in text


def test_sidebar_keywords_on_every_page_never_match(tmp_path: Path, site: Site) -> None:
    sidebar = ("<aside class='sidebar'><h3>Lire aussi</h3><ul><li><a href='/y'>Le cloud souverain selon "
               "SecNumCloud</a></li><li><a href='/z'>Cloud souverain : le dossier</a></li></ul></aside>")
    site.server.expect_request("/rss.xml").respond_with_data(
        rss(site.url, [UNRELATED]).replace(UNRELATED.body[0][:120], "Fibre"), content_type="application/rss+xml")
    site.page(f"/articles/{UNRELATED.slug}", article_page(UNRELATED, sidebar=sidebar))
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": f"{site.url}/rss.xml"}])
    result = run_veille("crawl", "--config", str(config))
    assert result.returncode == 0, result.stderr
    (row,) = stored(tmp_path).values()
    assert row["full_text"] == 1 and "Cantal" in row["text"]
    assert "souverain" not in row["text"].lower()
    assert UNRELATED.title not in result.stdout, "no alert from a sidebar"


def test_match_keeps_only_the_matching_entries_of_a_feed(tmp_path: Path, site: Site) -> None:
    news = Article("news-cloud", "Une actualité", UNRELATED.body, recent(1))
    feed = site.feed("/rss.xml", [SOVEREIGN, news])
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": feed, "match": "/articles/news-"}])
    crawl(config)
    assert [row["title"] for row in stored(tmp_path).values()] == ["Une actualité"]
    assert [p for p in paths(site.server) if p.startswith("/articles/")] == ["/articles/news-cloud"]
