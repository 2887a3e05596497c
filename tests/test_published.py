"""The publication time a page declares, time of day and time zone included (pages and sitemaps)."""

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import lxml.html
import pytest

from crawler.extract import extract
from crawler.published import page_published
from tests.conftest import UNRELATED, Article, Site, article_page, run_veille, write_config

OPEN_GRAPH = '<meta property="article:published_time" content="2026-12-02T14:35:00+01:00">'
JSON_LD = ('<script type="application/ld+json">{"@context": "https://schema.org", "@graph": [{"@type": "WebPage"},'
           ' {"@type": "NewsArticle", "datePublished": "2026-12-02T14:35:00+01:00"}]}</script>')
TIME = '<article><time datetime="2026-12-02T13:35:00Z">2 décembre</time><p>texte</p></article>'
DUBLIN_CORE = '<meta name="DC.date.issued" content="2026-12-02T14:35:00+01:00">'


def published(head: str, body: str = "") -> str | None:
    return page_published(lxml.html.fromstring(f"<html><head>{head}</head><body>{body}<p>x</p></body></html>"))


@pytest.mark.parametrize(("head", "body"), [(OPEN_GRAPH, ""), (JSON_LD, ""), ("", TIME), (DUBLIN_CORE, "")])
def test_the_declared_time_of_day_and_zone_are_read(head: str, body: str) -> None:
    assert published(head, body) == "2026-12-02T13:35:00+00:00"


def test_open_graph_comes_before_the_times_in_the_page() -> None:
    assert published(OPEN_GRAPH, '<article><time datetime="2026-12-03T09:00:00+01:00">x</time></article>') == (
        "2026-12-02T13:35:00+00:00")


def test_a_time_with_a_zone_is_preferred_to_one_without() -> None:
    naive = '<meta property="article:published_time" content="2026-12-02T14:35:00">'
    assert published(naive + DUBLIN_CORE) == "2026-12-02T13:35:00+00:00"
    assert published(naive) == "2026-12-02T14:35:00+00:00"  # nothing better: taken as UTC


@pytest.mark.parametrize("head", [
    '<meta property="article:published_time" content="2026-12-02">',  # a date alone: trafilatura's date does
    '<script type="application/ld+json">{"datePublished": </script>',
    '<meta property="article:published_time" content="hier à 14h">',
])
def test_no_time_of_day_gives_none(head: str) -> None:
    assert published(head) is None


def test_extraction_keeps_the_time_of_day_and_falls_back_to_the_date() -> None:
    page = article_page(UNRELATED)
    timed = extract(page.replace("</head>", f"{JSON_LD}</head>"), "https://journal.example/a")
    dated = extract(page.replace("</head>", '<meta name="date" content="2026-12-02"></head>'),
                    "https://journal.example/a")
    assert timed is not None and dated is not None
    assert (timed.published, dated.published) == ("2026-12-02T13:35:00+00:00", "2026-12-02")


def test_page_and_sitemap_articles_keep_the_page_s_time_of_day(tmp_path: Path, site: Site) -> None:
    when = (datetime.now(UTC) - timedelta(hours=5)).replace(microsecond=0, second=0)
    paris = when.astimezone(ZoneInfo("Europe/Paris")).isoformat()
    listed = Article("liste", "Un article de la liste", UNRELATED.body, when)
    mapped = Article("carte", "Un article du plan du site", UNRELATED.body, when)
    for article in (listed, mapped):
        site.page(f"/articles/{article.slug}", article_page(article).replace(
            "</head>", f'<meta property="article:published_time" content="{paris}"></head>'))
    site.page("/actualites/", f"<html><body><a class='card' href='/articles/{listed.slug}'>x</a></body></html>")
    site.server.expect_request("/sitemap.xml").respond_with_data(  # <lastmod> says the day only
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{site.url}/articles/{mapped.slug}</loc><lastmod>{when.date()}</lastmod></url></urlset>",
        content_type="application/xml")
    config = write_config(tmp_path / "config.yaml", [
        {"name": "liste", "page": f"{site.url}/actualites/", "links": "a.card"},
        {"name": "plan", "sitemap": f"{site.url}/sitemap.xml"}])
    result = run_veille("crawl", "--config", str(config))
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "veille.db") as conn:
        rows = dict(conn.execute("SELECT source, published FROM articles"))
    assert rows == {"liste": when.isoformat(), "plan": when.isoformat()}
