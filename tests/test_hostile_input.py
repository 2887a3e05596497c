"""Hostile and broken input through the real `veille crawl`: no crash, a clear reason, the rest unaffected.

Each test serves the hostile thing next to a good article (or a good source) from 127.0.0.1 and asserts
that the good one is stored as usual. Covered elsewhere, not repeated here:
- a page bigger than max_bytes: test_crawl_sources.test_huge_page_is_dropped_and_the_feed_text_kept;
- a redirect loop: test_crawl_sources.test_redirect_loop_ends_and_the_feed_text_is_kept;
- feed links and redirects to another loopback host (the private-network guard):
  test_guard.test_links_and_redirects_to_another_private_host_are_never_fetched;
- malformed and mis-encoded feeds (declared UTF-8 that is Latin-1, UTF-16, broken entities, binary garbage):
  test_feed_corpus and test_feeds.
"""

import gzip
import re
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import brotli
import pytest
import sqlite_utils
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from crawler.entries import plausible_date
from crawler.feeds import strip_dtd, without_dtd
from storage import health as source_health
from tests.conftest import SOVEREIGN, UNRELATED, Article, Site, article_page, recent, rss, write_config
from tests.test_crawl_sources import crawl, paths, status, stored

MB = 1_000_000


def health(tmp_path: Path) -> dict[str, dict[str, Any]]:
    """Each source's health, as `veille status` shows it (read from the archive: one process less)."""
    return source_health.all_sources(sqlite_utils.Database(tmp_path / "veille.db"))


def url_of(site: Site, article: Article) -> str:
    """The stored URL of an article served by `Site.feed` (its feed link keeps utm_source)."""
    return f"{site.url}/articles/{article.slug}?utm_source=rss"


def item(link: str, title: str, *, guid: str | None = None, date: str | None = None,
         description: str = "Le résumé du flux.") -> str:
    """One RSS item, as raw XML (nothing escaped: the tests write hostile markup on purpose)."""
    return (f"<item><title>{title}</title><link>{link}</link>"
            + (f"<guid isPermaLink='false'>{guid}</guid>" if guid else "")
            + (f"<pubDate>{date}</pubDate>" if date else "")
            + f"<description>{description}</description></item>")


def channel(items: str, prolog: str = "<?xml version='1.0' encoding='utf-8'?>") -> str:
    return (f"{prolog}<rss version='2.0'><channel><title>Hostile</title><link>http://127.0.0.1/</link>"
            f"<description>x</description>{items}</channel></rss>")


@pytest.fixture
def elsewhere() -> Iterator[HTTPServer]:
    """Another loopback host (127.0.0.2) that no request may reach: any request is recorded in its log."""
    server = HTTPServer(host="127.0.0.2", port=0)
    server.start()
    server.expect_request(re.compile(".*")).respond_with_data("secret internal data")
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def threaded() -> Iterator[HTTPServer]:
    """A local server answering concurrently (a streamed body must not hold up the other requests)."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    server.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    yield server
    server.clear()
    server.stop()


# ---------------------------------------------------------------------------------------------------------
# XML: entity bombs and external entities


def test_xml_entity_bombs_in_a_feed_are_never_expanded(tmp_path: Path, site: Site) -> None:
    good = site.feed("/good.xml", [UNRELATED])
    site.page(f"/articles/{SOVEREIGN.slug}", article_page(SOVEREIGN))
    link = f"{site.url}/articles/{SOVEREIGN.slug}"
    # billion laughs, all on one line (which feedparser's own entity filter does not see)
    laughs = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10))
    site.server.expect_request("/laughs.xml").respond_with_data(channel(
        item(link, "&l9;", description="&l9;"),
        prolog=f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY l0 "lol">{laughs}]>'),
        content_type="application/rss+xml")
    # quadratic blowup: one "safe" entity of 20 kB, referenced 5,000 times: 100 MB once expanded
    site.server.expect_request("/quadratic.xml").respond_with_data(channel(
        item(link, "&big;" * 5000, description="&big;" * 5000),
        prolog=f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY big "{"x" * 20_000}">\n]>\n'),
        content_type="application/rss+xml")
    config = write_config(tmp_path / "config.yaml", [
        {"name": "laughs", "feed": f"{site.url}/laughs.xml"},
        {"name": "quadratic", "feed": f"{site.url}/quadratic.xml"},
        {"name": "good", "feed": good}])
    crawl(config)
    rows = stored(tmp_path)
    assert rows[url_of(site, UNRELATED)]["full_text"] == 1
    assert rows[link]["full_text"] == 1, "the bomb's own entry is still read, its page fetched"
    assert max(len(r["title"]) + len(r["text"]) for r in rows.values()) < 10_000, "no entity was expanded"
    assert all(s["last_error"] is None for s in health(tmp_path).values())


def test_external_entities_and_dtds_are_never_fetched(tmp_path: Path, site: Site, elsewhere: HTTPServer) -> None:
    outside = elsewhere.url_for("").rstrip("/")
    dtd = (f'<!DOCTYPE rss SYSTEM "{outside}/rss.dtd" [<!ENTITY ext SYSTEM "{outside}/ext.txt">'
           f'<!ENTITY % pe SYSTEM "{outside}/pe.dtd"> %pe;]>')
    site.server.expect_request("/rss.xml").respond_with_data(
        channel(item(f"{site.url}/articles/{SOVEREIGN.slug}", "Titre &ext; fin"),
                prolog=f'<?xml version="1.0" encoding="utf-8"?>{dtd}'), content_type="application/rss+xml")
    site.page(f"/articles/{SOVEREIGN.slug}", article_page(SOVEREIGN))
    site.server.expect_request("/sitemap.xml").respond_with_data(
        f'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY ext SYSTEM "{outside}/sitemap-ext.txt">]>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{site.url}/news/{UNRELATED.slug}&ext;</loc></url>"
        f"<url><loc>{site.url}/news/{UNRELATED.slug}</loc></url></urlset>", content_type="application/xml")
    site.page(f"/news/{UNRELATED.slug}", article_page(UNRELATED))
    config = write_config(tmp_path / "config.yaml", [
        {"name": "feed", "feed": f"{site.url}/rss.xml"}, {"name": "sitemap", "sitemap": f"{site.url}/sitemap.xml"}])
    crawl(config)
    assert elsewhere.log == [], "no DTD, external entity or parameter entity was fetched"
    rows = stored(tmp_path)
    assert rows[f"{site.url}/articles/{SOVEREIGN.slug}"]["title"].startswith("Titre")
    assert f"{site.url}/news/{UNRELATED.slug}" in rows
    assert not any("secret" in r["title"] + r["text"] for r in rows.values())


def test_strip_dtd_keeps_everything_but_the_prologs_declaration() -> None:
    feed = '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "]">\n<!ENTITY b "x">\n]>\n<rss>&b;</rss>'
    assert strip_dtd(feed) == '<?xml version="1.0"?>\n\n<rss>&b;</rss>'
    netscape = '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "rss-0.91.dtd"><rss/>'
    assert strip_dtd(netscape) == "<rss/>"
    later = "<rss><description><![CDATA[<!DOCTYPE html [ ]>]]></description></rss>"
    assert strip_dtd(later) is later, "a declaration after the first element is content, kept"
    assert strip_dtd('<!DOCTYPE rss [<!ENTITY a "never closed"') == ""
    utf16 = '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE rss [<!ENTITY a "b">]><rss>é</rss>'.encode("utf-16")
    assert without_dtd(utf16).decode("utf-16") == '<?xml version="1.0" encoding="utf-16"?><rss>é</rss>'


def test_plausible_dates() -> None:
    now = datetime(2026, 5, 1, 12, 0, 0, 500, tzinfo=UTC)
    assert plausible_date("2099-01-01T00:00:00+00:00", now) == "2026-05-01T12:00:00+00:00"
    assert plausible_date("1970-01-01T00:00:00+00:00", now) is None
    assert plausible_date("not a date", now) is None
    assert plausible_date("2026-04-30T10:00:00+02:00", now) == "2026-04-30T08:00:00+00:00"


# ---------------------------------------------------------------------------------------------------------
# Sizes: compression bombs and a 2 GB body


def padded_page(article: Article, size: int) -> bytes:
    """A real article page padded to `size` bytes: were it read whole, its main text would be kept."""
    page = article_page(article)
    return page.replace("</body>", "<!--" + "x" * (size - len(page)) + "--></body>").encode()


BOMBS = {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress}


def test_compression_bombs_stop_at_max_bytes_once_decompressed(tmp_path: Path, site: Site) -> None:
    bombs = [Article(f"bomb-{name}", f"Bombe {name}", SOVEREIGN.body, recent(1), summary=f"Résumé {name}")
             for name in BOMBS]
    site.server.expect_request("/rss.xml").respond_with_data(rss(site.url, [*bombs, UNRELATED]),
                                                             content_type="application/rss+xml")
    site.page(f"/articles/{UNRELATED.slug}", article_page(UNRELATED))
    for (name, compress), article in zip(BOMBS.items(), bombs, strict=True):
        body = compress(padded_page(article, 30 * MB))
        assert len(body) < 200_000, "a bomb: small on the wire"
        site.server.expect_request(f"/articles/{article.slug}").respond_with_data(
            body, content_type="text/html; charset=utf-8", headers={"Content-Encoding": name})
    # a feed that is a bomb too: the source's error, not a crash
    site.server.expect_request("/bomb.xml").respond_with_data(
        gzip.compress(rss(site.url, [SOVEREIGN]).replace("</rss>", "<!--" + "x" * 30 * MB + "--></rss>").encode()),
        content_type="application/rss+xml", headers={"Content-Encoding": "gzip"})
    # a gzipped sitemap (the file itself, not its transfer) that unpacks to 30 MB
    site.server.expect_request("/sitemap.xml.gz").respond_with_data(
        gzip.compress(b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                      + b"<!--" + b"x" * 30 * MB + b"--></urlset>"), content_type="application/octet-stream")
    config = write_config(tmp_path / "config.yaml", [
        {"name": "journal", "feed": f"{site.url}/rss.xml"}, {"name": "bomb", "feed": f"{site.url}/bomb.xml"},
        {"name": "gzsitemap", "sitemap": f"{site.url}/sitemap.xml.gz"}],
        crawl={"timeout": "20s", "delay": "0s", "max_bytes": "1MB"})
    crawl(config)
    accepted = [r.headers.get("Accept-Encoding", "") for r, _ in site.server.log if r.path == "/rss.xml"]
    assert "br" in accepted[0], "brotli is installed, so the br bomb is decoded (and bounded) too"
    rows = stored(tmp_path)
    assert rows[url_of(site, UNRELATED)]["full_text"] == 1
    for article in bombs:
        row = rows[url_of(site, article)]
        assert row["full_text"] == 0 and row["text"] == article.summary, "the feed's text is kept"
    sources = health(tmp_path)
    assert sources["journal"]["last_error"] is None
    assert "exceeded DOWNLOAD_MAXSIZE (1000000 B) during decompression" in sources["bomb"]["last_error"]
    assert "decompressed so far (1048576 B) exceeded the specified maximum" in sources["gzsitemap"]["last_error"]


def test_a_2_gb_body_is_cut_at_max_bytes_without_being_sent_whole(tmp_path: Path, threaded: HTTPServer) -> None:
    site = Site(threaded)
    huge = Article("huge", "Un article de 2 Go", SOVEREIGN.body, recent(1), summary="Le texte du flux")
    threaded.expect_request("/rss.xml").respond_with_data(rss(site.url, [huge, UNRELATED]),
                                                          content_type="application/rss+xml")
    site.page(f"/articles/{UNRELATED.slug}", article_page(UNRELATED))
    sent = {"page": 0, "feed": 0}

    def stream(key: str, head: bytes) -> Iterator[bytes]:
        chunk = b"x" * 65536
        yield head
        sent[key] += len(head)
        while sent[key] < 2_000 * MB:
            yield chunk
            sent[key] += len(chunk)

    # chunked, no Content-Length: only counting what arrives can stop it
    threaded.expect_request(f"/articles/{huge.slug}").respond_with_handler(lambda _: Response(
        stream("page", article_page(huge).replace("</body>", "<!--").encode()), content_type="text/html"))
    # and a feed that says it is 2 GB
    threaded.expect_request("/huge.xml").respond_with_handler(lambda _: Response(
        stream("feed", b"<?xml version='1.0'?><rss version='2.0'><channel><!--"),
        content_type="application/rss+xml", headers={"Content-Length": str(2_000 * MB)}))
    config = write_config(tmp_path / "config.yaml", [
        {"name": "journal", "feed": f"{site.url}/rss.xml"}, {"name": "huge", "feed": f"{site.url}/huge.xml"}],
        crawl={"timeout": "30s", "delay": "0s", "max_bytes": "1MB", "retries": 0})
    stderr = crawl(config)
    rows = stored(tmp_path)
    assert rows[url_of(site, UNRELATED)]["full_text"] == 1
    assert rows[url_of(site, huge)]["full_text"] == 0 and rows[url_of(site, huge)]["text"] == huge.summary
    assert sent["page"] < 100 * MB and sent["feed"] < 100 * MB, sent
    sources = health(tmp_path)
    assert sources["journal"]["last_error"] is None
    assert "larger than download max size (1000000)" in sources["huge"]["last_error"]
    assert f"article page {url_of(site, huge)}: DownloadCancelledError: its body grew past max_bytes" in stderr


# ---------------------------------------------------------------------------------------------------------
# Content: types, encodings, dates


def test_pdf_and_images_at_article_urls_keep_the_feed_text(tmp_path: Path, site: Site) -> None:
    pdf = Article("rapport-pdf", "Le rapport en PDF", SOVEREIGN.body, recent(1), summary="Résumé du rapport")
    image = Article("infographie", "Une infographie", SOVEREIGN.body, recent(1), summary="Résumé de l'image")
    untyped = Article("sans-type", "Un PDF sans type", SOVEREIGN.body, recent(1), summary="Résumé sans type")
    svg = Article("schema-svg", "Un schéma en SVG", SOVEREIGN.body, recent(1), summary="Résumé du schéma")
    site.server.expect_request("/rss.xml").respond_with_data(rss(site.url, [pdf, image, untyped, svg, UNRELATED]),
                                                             content_type="application/rss+xml")
    site.page(f"/articles/{UNRELATED.slug}", article_page(UNRELATED))
    pdf_bytes = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <</Type /Catalog>> endobj\n" + bytes(range(256)) * 40
    site.server.expect_request(f"/articles/{pdf.slug}").respond_with_data(pdf_bytes, content_type="application/pdf")
    site.server.expect_request(f"/articles/{image.slug}").respond_with_data(
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40, content_type="image/png")
    site.server.expect_request(f"/articles/{untyped.slug}").respond_with_data(
        pdf_bytes, content_type="application/octet-stream")
    # an SVG is XML, but no article: read as a page, it broke the extraction and lost the entry
    site.server.expect_request(f"/articles/{svg.slug}").respond_with_data(
        '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="800" height="600">'
        + "".join(f'<text x="10" y="{20 * n}">{line}</text>' for n, line in enumerate(SOVEREIGN.body))
        + "</svg>", content_type="image/svg+xml")
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": f"{site.url}/rss.xml"}])
    crawl(config)
    rows = stored(tmp_path)
    assert rows[url_of(site, UNRELATED)]["full_text"] == 1
    for article in (pdf, image, untyped, svg):
        row = rows[url_of(site, article)]
        assert (row["full_text"], row["text"], row["title"]) == (0, article.summary, article.title)
    assert health(tmp_path)["journal"]["last_error"] is None


def test_invalid_utf8_and_wrong_declared_charsets_are_read(tmp_path: Path, site: Site) -> None:
    liar = Article("charset-menteur", "Déclaré UTF-8, écrit en Windows-1252", SOVEREIGN.body, recent(1))
    broken = Article("utf8-casse", "Octets invalides", UNRELATED.body, recent(1))
    # the feed: declared UTF-8, with invalid bytes in one title
    feed = rss(site.url, [liar, broken]).encode().replace(b"Octets invalides", b"Octets \xff\xfe invalides")
    site.server.expect_request("/rss.xml").respond_with_data(feed, content_type="application/rss+xml")
    # a page declared UTF-8 by HTTP and meta, written in Windows-1252
    site.server.expect_request(f"/articles/{liar.slug}").respond_with_data(
        article_page(liar).replace("doctrine", "doctrine “souveraine” – été").encode("cp1252"),
        content_type="text/html; charset=utf-8")
    # a UTF-8 page with invalid sequences in its text
    site.server.expect_request(f"/articles/{broken.slug}").respond_with_data(
        article_page(broken).encode().replace(b"Cantal", b"Can\xc3\x28tal \xed\xa0\x80"),
        content_type="text/html; charset=utf-8")
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": f"{site.url}/rss.xml"}])
    crawl(config)
    rows = stored(tmp_path)
    assert rows[url_of(site, liar)]["full_text"] == 1 and "SecNumCloud" in rows[url_of(site, liar)]["text"]
    row = rows[url_of(site, broken)]
    assert row["full_text"] == 1 and "fibre optique" in row["text"] and row["title"].startswith("Octets")
    assert health(tmp_path)["journal"]["last_error"] is None


def test_dates_in_the_future_in_1970_or_unreadable(tmp_path: Path, site: Site) -> None:
    """Decision: a date in the future is clamped to the fetch time; a date before 1995 (1970-01-01, a zeroed
    date) and an unreadable one are unknown, so the page's date or the fetch time stands in."""
    dates = {"futur": format_datetime(datetime(2099, 1, 1, tzinfo=UTC)),
             "epoch": "Thu, 01 Jan 1970 00:00:00 +0000",
             "illisible": "le 32 du mois prochain",
             "demain": format_datetime(datetime.now(UTC).replace(microsecond=0) + timedelta(days=1))}
    items = "".join(item(f"{site.url}/articles/{slug}", f"Article {slug}", date=date)
                    for slug, date in dates.items())
    site.server.expect_request("/dates.xml").respond_with_data(channel(items), content_type="application/rss+xml")
    for slug in dates:
        site.page(f"/articles/{slug}", article_page(Article(slug, f"Article {slug}", UNRELATED.body, recent(1))))
    good = site.feed("/rss.xml", [SOVEREIGN])
    config = write_config(tmp_path / "config.yaml", [{"name": "dates", "feed": f"{site.url}/dates.xml"},
                                                     {"name": "journal", "feed": good}])
    before = datetime.now(UTC)
    crawl(config)
    rows = stored(tmp_path)
    assert rows[url_of(site, SOVEREIGN)]["published"] == SOVEREIGN.published.isoformat()
    for slug in ("futur", "demain"):
        row = rows[f"{site.url}/articles/{slug}"]
        published = datetime.fromisoformat(row["published"])
        assert before - timedelta(seconds=1) <= published <= datetime.fromisoformat(row["fetched_at"]), slug
    for slug in ("epoch", "illisible"):
        assert rows[f"{site.url}/articles/{slug}"]["published"] is None, slug
    assert health(tmp_path)["dates"]["last_error"] is None


# ---------------------------------------------------------------------------------------------------------
# Feed shapes: 10,000 entries, duplicate GUIDs, hostile links; a listing page matching nothing


def any_article(request: Request) -> Response:
    slug = request.path.rsplit("/", 1)[-1]
    return Response(article_page(Article(slug, f"Page {slug}", [*UNRELATED.body, f"Numéro {slug}."], recent(1))),
                    content_type="text/html; charset=utf-8")


def test_a_feed_of_10000_entries_is_bounded_by_max_articles(tmp_path: Path, site: Site) -> None:
    items = "".join(item(f"{site.url}/articles/n{n}", f"Entrée {n}", guid=f"g{n}") for n in range(10_000))
    site.server.expect_request("/big.xml").respond_with_data(channel(items), content_type="application/rss+xml")
    site.server.expect_request(re.compile("/articles/n.*")).respond_with_handler(any_article)
    good = site.feed("/rss.xml", [SOVEREIGN])
    config = write_config(tmp_path / "config.yaml", [
        {"name": "big", "feed": f"{site.url}/big.xml", "max_articles": 5}, {"name": "journal", "feed": good}])
    crawl(config)
    assert len([p for p in paths(site.server) if p.startswith("/articles/n")]) == 5
    rows = stored(tmp_path)
    assert len(rows) == 6 and rows[url_of(site, SOVEREIGN)]["full_text"] == 1
    sources = health(tmp_path)
    assert sources["big"]["last_error"] is None and sources["big"]["items_new"] == 5


def test_duplicate_guids_within_a_feed_make_one_article(tmp_path: Path, site: Site) -> None:
    items = (item(f"{site.url}/articles/{SOVEREIGN.slug}", SOVEREIGN.title, guid="same")
             + item(f"{site.url}/articles/{UNRELATED.slug}", "Un intrus sous le même GUID", guid="same")
             + item(f"{site.url}/articles/troisieme", "Le troisième", guid="other"))
    site.server.expect_request("/rss.xml").respond_with_data(channel(items), content_type="application/rss+xml")
    third = Article("troisieme", "Le troisième", ["Un troisième article, sans rapport avec les autres."] * 3,
                    recent(1))
    for article in (SOVEREIGN, UNRELATED, third):
        site.page(f"/articles/{article.slug}", article_page(article))
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": f"{site.url}/rss.xml"}])
    stderr = crawl(config)
    rows = stored(tmp_path)
    assert sorted(r["guid"] for r in rows.values()) == ["other", "same"]
    assert rows[f"{site.url}/articles/{SOVEREIGN.slug}"]["title"] == SOVEREIGN.title, "the first entry wins"
    assert f"/articles/{UNRELATED.slug}" not in paths(site.server), "the repeated GUID's page is not fetched"
    assert "GUID already given" in stderr
    assert health(tmp_path)["journal"]["last_error"] is None


def test_javascript_data_file_and_relative_links(tmp_path: Path, site: Site, elsewhere: HTTPServer) -> None:
    outside = elsewhere.url_for("/x").split(":", 1)[1]  # protocol-relative: //127.0.0.2:port/x
    links = ["javascript:alert(document.cookie)", "JavaScript:void(0)",
             "data:text/html,<html><body><article><p>Le cloud souverain injecté par data.</p></article></body></html>",
             "file:///etc/passwd", "ftp://127.0.0.1/pub", "mailto:redaction@example.org", outside,
             f"/articles/{SOVEREIGN.slug}", f"articles/{UNRELATED.slug}"]
    site.server.expect_request("/feeds/rss.xml").respond_with_data(
        channel("".join(item(link.replace("&", "&amp;").replace("<", "&lt;"), f"Lien {n}")
                        for n, link in enumerate(links))), content_type="application/rss+xml")
    site.page(f"/articles/{SOVEREIGN.slug}", article_page(SOVEREIGN))
    site.page(f"/feeds/articles/{UNRELATED.slug}", article_page(UNRELATED))
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": f"{site.url}/feeds/rss.xml"}])
    stderr = crawl(config)
    assert set(stored(tmp_path)) == {f"{site.url}/articles/{SOVEREIGN.slug}",
                                     f"{site.url}/feeds/articles/{UNRELATED.slug}"}, "relative links resolved"
    assert all(r["full_text"] == 1 for r in stored(tmp_path).values())
    assert elsewhere.log == []
    assert "skipped 6 link(s) of" in stderr and "(only http(s) links are followed)" in stderr
    assert f"refused http:{outside}: a source on a private host may only link to that host" in stderr
    assert health(tmp_path)["journal"]["last_error"] is None


def test_a_listing_page_whose_selector_matches_nothing_is_its_sources_error(tmp_path: Path, site: Site) -> None:
    site.page("/actualites/", "<html><body><div class='card'><a href='/articles/x'>x</a></div></body></html>")
    good = site.feed("/rss.xml", [SOVEREIGN])
    config = write_config(tmp_path / "config.yaml", [
        {"name": "dinum", "page": f"{site.url}/actualites/", "links": "a.fr-card__link"},
        {"name": "journal", "feed": good}])
    stderr = crawl(config)
    assert set(stored(tmp_path)) == {url_of(site, SOVEREIGN)}
    health = status(config)
    assert "no link matches links: 'a.fr-card__link'" in health["dinum"]["last_error"]
    assert "no link matches" in stderr
    assert health["journal"]["last_error"] is None
    assert "/articles/x" not in paths(site.server)

