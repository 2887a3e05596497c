"""Hostile and broken input through one real `veille crawl`: no crash, a clear reason, the rest unaffected.

One crawl (a module fixture) serves every hostile case from 127.0.0.1, each as its own source under its own
path and next to a good article, alongside a good source; each test reads one case's outcome. Covered
elsewhere, not repeated here:
- a page bigger than max_bytes: test_crawl_sources.test_huge_page_is_dropped_and_the_feed_text_kept;
- a redirect loop: test_crawl_sources.test_redirect_loop_ends_and_the_feed_text_is_kept;
- feed links and redirects to another loopback host (the private-network guard):
  test_guard.test_links_and_redirects_to_another_private_host_are_never_fetched;
- malformed and mis-encoded feeds (declared UTF-8 that is Latin-1, UTF-16, broken entities, binary garbage):
  test_feed_corpus and test_feeds.
Sources that time out, reset the connection or answer 5xx or 429: test_crawl_faults.
"""

import csv
import gzip
import io
import itertools
import os
import re
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import brotli
import pytest
import sqlite_utils
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from alerts.format import alert_message
from crawler.entries import plausible_date
from crawler.feeds import FeedError, parse_feed, repaired_utf8, strip_dtd, utf8_without_dtd
from storage import fields, health
from storage.records import QueuedAlert
from tests.conftest import VEILLE, Article, Site, article_page, distinct_text, recent, rss, run_veille, write_config
from tests.test_crawl_sources import paths, stored

MB = 1_000_000
PEAK = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
        "print('peak-rss-kib', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
        "sys.exit(code)")
_SEEDS = itertools.count(1000)


def art(slug: str, title: str = "", summary: str = "") -> Article:
    """An article whose text no other shares (so that no case's article is a copy of another's)."""
    return Article(slug, title or f"Article {slug}", distinct_text(next(_SEEDS)), recent(1), summary=summary)


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


def padded_page(article: Article, size: int) -> bytes:
    """A real article page padded to `size` bytes: were it read whole, its main text would be kept."""
    page = article_page(article)
    return page.replace("</body>", "<!--" + "x" * (size - len(page)) + "--></body>").encode()


# ---------------------------------------------------------------------------------------------------------
# The cases: each serves its source(s) on the site and returns their config entries


GOOD = art("bon-article", "Le bon article, à côté des autres")
XML_LAUGHS, XML_QUADRATIC, XML_EXTERNAL, XML_SITEMAP = (art(f"xml-{n}") for n in range(4))
BOMBS = {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress}
BOMB_PAGES = {name: art(f"bombe-{name}", summary=f"Résumé {name}") for name in BOMBS}
ZIP_GOOD, HUGE, HUGE_GOOD = art("zip-bon"), art("deux-go", summary="Le texte du flux"), art("flux-bon")
PDF, IMAGE, UNTYPED, SVG = (art(slug, summary=f"Résumé {slug}") for slug in ("pdf", "image", "sans-type", "svg"))
TYPES_GOOD = art("types-bon")
LIAR, BROKEN = art("charset-menteur", "Déclaré UTF-8, écrit en Windows-1252 : “été” – €"), art("utf8-casse")
DATES = {"futur": format_datetime(datetime(2099, 1, 1, tzinfo=UTC)),
         "epoch": "Thu, 01 Jan 1970 00:00:00 +0000",
         "illisible": "le 32 du mois prochain",
         "demain": format_datetime(datetime.now(UTC).replace(microsecond=0) + timedelta(days=1))}
GUID_FIRST, GUID_SECOND, GUID_OTHER = art("guid-premier"), art("guid-intrus"), art("guid-autre")
LINKS_ABSOLUTE, LINKS_RELATIVE = art("lien-absolu"), art("lien-relatif")


def good_source(site: Site, _: str, __: dict[str, int]) -> list[dict[str, Any]]:
    return [{"name": "journal", "feed": site.feed("/good/rss.xml", [GOOD])}]


def xml_bombs(site: Site, _: str, __: dict[str, int]) -> list[dict[str, Any]]:
    for article in (XML_LAUGHS, XML_QUADRATIC):
        site.page(f"/articles/{article.slug}", article_page(article))
    # billion laughs, all on one line (which feedparser's own entity filter does not see)
    laughs = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10))
    site.server.expect_request("/xml/laughs.xml").respond_with_data(channel(
        item(f"{site.url}/articles/{XML_LAUGHS.slug}", "&l9;", description="&l9;"),
        prolog=f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY l0 "lol">{laughs}]>'),
        content_type="application/rss+xml")
    # quadratic blowup: one "safe" entity of 20 kB, referenced 5,000 times: 100 MB once expanded
    site.server.expect_request("/xml/quadratic.xml").respond_with_data(channel(
        item(f"{site.url}/articles/{XML_QUADRATIC.slug}", "&big;" * 5000, description="&big;" * 5000),
        prolog=f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY big "{"x" * 20_000}">\n]>\n'),
        content_type="application/rss+xml")
    return [{"name": "laughs", "feed": f"{site.url}/xml/laughs.xml"},
            {"name": "quadratic", "feed": f"{site.url}/xml/quadratic.xml"}]


def xml_external(site: Site, outside: str, _: dict[str, int]) -> list[dict[str, Any]]:
    dtd = (f'<!DOCTYPE rss SYSTEM "{outside}/rss.dtd" [<!ENTITY ext SYSTEM "{outside}/ext.txt">'
           f'<!ENTITY % pe SYSTEM "{outside}/pe.dtd"> %pe;]>')
    site.server.expect_request("/xml/external.xml").respond_with_data(
        channel(item(f"{site.url}/articles/{XML_EXTERNAL.slug}", "Titre &ext; fin"),
                prolog=f'<?xml version="1.0" encoding="utf-8"?>{dtd}'), content_type="application/rss+xml")
    site.page(f"/articles/{XML_EXTERNAL.slug}", article_page(XML_EXTERNAL))
    site.server.expect_request("/xml/sitemap.xml").respond_with_data(
        f'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY ext SYSTEM "{outside}/sitemap-ext.txt">]>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{site.url}/news/{XML_SITEMAP.slug}&ext;</loc></url>"
        f"<url><loc>{site.url}/news/{XML_SITEMAP.slug}</loc></url></urlset>", content_type="application/xml")
    site.page(f"/news/{XML_SITEMAP.slug}", article_page(XML_SITEMAP))
    return [{"name": "external", "feed": f"{site.url}/xml/external.xml"},
            {"name": "entity-sitemap", "sitemap": f"{site.url}/xml/sitemap.xml"}]


def compression_bombs(site: Site, _: str, __: dict[str, int]) -> list[dict[str, Any]]:
    site.server.expect_request("/zip/rss.xml").respond_with_data(
        rss(site.url, [*BOMB_PAGES.values(), ZIP_GOOD]), content_type="application/rss+xml")
    site.page(f"/articles/{ZIP_GOOD.slug}", article_page(ZIP_GOOD))
    for name, compress in BOMBS.items():
        body = compress(padded_page(BOMB_PAGES[name], 30 * MB))
        assert len(body) < 200_000, "a bomb: small on the wire"
        site.server.expect_request(f"/articles/{BOMB_PAGES[name].slug}").respond_with_data(
            body, content_type="text/html; charset=utf-8", headers={"Content-Encoding": name})
    # a feed that is a bomb too: the source's error, not a crash
    site.server.expect_request("/zip/bomb.xml").respond_with_data(
        gzip.compress(rss(site.url, [GOOD]).replace("</rss>", "<!--" + "x" * 30 * MB + "--></rss>").encode()),
        content_type="application/rss+xml", headers={"Content-Encoding": "gzip"})
    # a gzipped sitemap (the file itself, not its transfer) that unpacks to 30 MB
    site.server.expect_request("/zip/sitemap.xml.gz").respond_with_data(
        gzip.compress(b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                      + b"<!--" + b"x" * 30 * MB + b"--></urlset>"), content_type="application/octet-stream")
    return [{"name": "zipped", "feed": f"{site.url}/zip/rss.xml", "max_bytes": "1MB"},
            {"name": "zipbomb", "feed": f"{site.url}/zip/bomb.xml", "max_bytes": "1MB"},
            {"name": "gzsitemap", "sitemap": f"{site.url}/zip/sitemap.xml.gz", "max_bytes": "1MB"}]


def two_gigabytes(site: Site, _: str, sent: dict[str, int]) -> list[dict[str, Any]]:
    site.server.expect_request("/big/rss.xml").respond_with_data(rss(site.url, [HUGE, HUGE_GOOD]),
                                                                 content_type="application/rss+xml")
    site.page(f"/articles/{HUGE_GOOD.slug}", article_page(HUGE_GOOD))

    def stream(key: str, head: bytes) -> Iterator[bytes]:
        chunk = b"x" * 65536
        yield head
        sent[key] = len(head)
        while sent[key] < 2_000 * MB:
            yield chunk
            sent[key] += len(chunk)

    # chunked, no Content-Length: only counting what arrives can stop it
    site.server.expect_request(f"/articles/{HUGE.slug}").respond_with_handler(lambda _: Response(
        stream("page", article_page(HUGE).replace("</body>", "<!--").encode()), content_type="text/html"))
    # and a feed that says it is 2 GB
    site.server.expect_request("/big/huge.xml").respond_with_handler(lambda _: Response(
        stream("feed", b"<?xml version='1.0'?><rss version='2.0'><channel><!--"),
        content_type="application/rss+xml", headers={"Content-Length": str(2_000 * MB)}))
    return [{"name": "streamed", "feed": f"{site.url}/big/rss.xml", "max_bytes": "1MB"},
            {"name": "huge", "feed": f"{site.url}/big/huge.xml", "max_bytes": "1MB"}]


def content_types(site: Site, _: str, __: dict[str, int]) -> list[dict[str, Any]]:
    site.server.expect_request("/types/rss.xml").respond_with_data(
        rss(site.url, [PDF, IMAGE, UNTYPED, SVG, TYPES_GOOD]), content_type="application/rss+xml")
    site.page(f"/articles/{TYPES_GOOD.slug}", article_page(TYPES_GOOD))
    pdf_bytes = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <</Type /Catalog>> endobj\n" + bytes(range(256)) * 40
    site.server.expect_request(f"/articles/{PDF.slug}").respond_with_data(pdf_bytes, content_type="application/pdf")
    site.server.expect_request(f"/articles/{IMAGE.slug}").respond_with_data(
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40, content_type="image/png")
    site.server.expect_request(f"/articles/{UNTYPED.slug}").respond_with_data(
        pdf_bytes, content_type="application/octet-stream")
    # an SVG is XML, but no article: read as a page, it broke the extraction and lost the entry
    site.server.expect_request(f"/articles/{SVG.slug}").respond_with_data(
        '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="800" height="600">'
        + "".join(f'<text x="10" y="{20 * n}">{line}</text>' for n, line in enumerate(SVG.body))
        + "</svg>", content_type="image/svg+xml")
    return [{"name": "types", "feed": f"{site.url}/types/rss.xml"}]


def charsets(site: Site, _: str, __: dict[str, int]) -> list[dict[str, Any]]:
    # the feed: declared UTF-8, with invalid bytes in one title
    feed = rss(site.url, [LIAR, BROKEN]).encode().replace(b"Article utf8-casse", b"Article \xff\xfe utf8-casse")
    site.server.expect_request("/charset/rss.xml").respond_with_data(feed, content_type="application/rss+xml")
    # a page declared UTF-8 by HTTP and meta, written in Windows-1252
    site.server.expect_request(f"/articles/{LIAR.slug}").respond_with_data(
        article_page(LIAR).encode("cp1252"), content_type="text/html; charset=utf-8")
    # a UTF-8 page with invalid sequences in its text
    site.server.expect_request(f"/articles/{BROKEN.slug}").respond_with_data(
        article_page(BROKEN).encode().replace(b"</h1>", b"</h1><p>Octets \xc3\x28 invalides \xed\xa0\x80 ici.</p>"),
        content_type="text/html; charset=utf-8")
    return [{"name": "charsets", "feed": f"{site.url}/charset/rss.xml"}]


def dates(site: Site, _: str, __: dict[str, int]) -> list[dict[str, Any]]:
    items = "".join(item(f"{site.url}/dates/{slug}", f"Article daté {slug}", date=date)
                    for slug, date in DATES.items())
    site.server.expect_request("/dates/rss.xml").respond_with_data(channel(items), content_type="application/rss+xml")
    for slug in DATES:
        site.page(f"/dates/{slug}", article_page(art(slug, f"Article daté {slug}")))
    return [{"name": "dates", "feed": f"{site.url}/dates/rss.xml"}]


def any_article(request: Request) -> Response:
    slug = request.path.rsplit("/", 1)[-1]
    return Response(article_page(art(slug)), content_type="text/html; charset=utf-8")


def many_entries(site: Site, _: str, __: dict[str, int]) -> list[dict[str, Any]]:
    items = "".join(item(f"{site.url}/many/n{n}", f"Entrée {n}", guid=f"g{n}") for n in range(10_000))
    site.server.expect_request("/many/rss.xml").respond_with_data(channel(items), content_type="application/rss+xml")
    site.server.expect_request(re.compile("/many/n.*")).respond_with_handler(any_article)
    return [{"name": "many", "feed": f"{site.url}/many/rss.xml", "max_articles": 5}]


def duplicate_guids(site: Site, _: str, __: dict[str, int]) -> list[dict[str, Any]]:
    items = (item(f"{site.url}/guid/{GUID_FIRST.slug}", GUID_FIRST.title, guid="same")
             + item(f"{site.url}/guid/{GUID_SECOND.slug}", "Un intrus sous le même GUID", guid="same")
             + item(f"{site.url}/guid/{GUID_OTHER.slug}", GUID_OTHER.title, guid="other"))
    site.server.expect_request("/guid/rss.xml").respond_with_data(channel(items), content_type="application/rss+xml")
    for article in (GUID_FIRST, GUID_SECOND, GUID_OTHER):
        site.page(f"/guid/{article.slug}", article_page(article))
    return [{"name": "guids", "feed": f"{site.url}/guid/rss.xml"}]


def hostile_links(site: Site, outside: str, _: dict[str, int]) -> list[dict[str, Any]]:
    links = ["javascript:alert(document.cookie)", "JavaScript:void(0)",
             "data:text/html,<html><body><article><p>Le cloud souverain injecté par data.</p></article></body></html>",
             "file:///etc/passwd", "ftp://127.0.0.1/pub", "mailto:redaction@example.org",
             outside.split(":", 1)[1] + "/x",  # protocol-relative: //127.0.0.2:port/x
             f"/links/{LINKS_ABSOLUTE.slug}", LINKS_RELATIVE.slug]
    site.server.expect_request("/links/feeds/rss.xml").respond_with_data(
        channel("".join(item(link.replace("&", "&amp;").replace("<", "&lt;"), f"Lien {n}")
                        for n, link in enumerate(links))), content_type="application/rss+xml")
    site.page(f"/links/{LINKS_ABSOLUTE.slug}", article_page(LINKS_ABSOLUTE))
    site.page(f"/links/feeds/{LINKS_RELATIVE.slug}", article_page(LINKS_RELATIVE))
    return [{"name": "links", "feed": f"{site.url}/links/feeds/rss.xml"}]


TERMINAL, LONG_TITLE, FORMULA, RAW_LINK = (art(slug) for slug in ("terminal", "long", "formule", "brut"))
# an OSC 52 clipboard write, clear screen, colours (ESC and the one-byte C1 CSI), a right-to-left override
ESCAPES = "\x1b]52;c;ZXZpbA==\x07\x1b[2J\x1b[31m rouge \u009b32m \u202eelif.exe\u202c"


def terminal_tricks(site: Site, _: str, __: dict[str, int]) -> list[dict[str, Any]]:
    titles = [(TERMINAL, f"Le cloud souverain {ESCAPES} fin"), (LONG_TITLE, "Le cloud souverain " + "long " * 6_000),
              (FORMULA, '=HYPERLINK("http://127.0.0.2/x";"cloud souverain")')]
    site.server.expect_request("/tty/rss.xml").respond_with_data(
        channel("".join(item(f"{site.url}/tty/{a.slug}", t.replace("&", "&amp;").replace("<", "&lt;"))
                        for a, t in titles)), content_type="application/rss+xml")
    for article, _title in titles:
        site.page(f"/tty/{article.slug}", article_page(article))
    # a link with spaces, a tab and markup, whose page is gone: the article keeps the normalised URL
    site.server.expect_request("/raw/rss.xml").respond_with_data(channel(item(
        f"{site.url}/raw/un lien\t&lt;b&gt;{RAW_LINK.slug}", "Le lien brut")), content_type="application/rss+xml")
    return [{"name": "tty", "feed": f"{site.url}/tty/rss.xml"}, {"name": "raw", "feed": f"{site.url}/raw/rss.xml"}]


FOLLOWED = art("suivi")


def endless_links(site: Site, _: str, __: dict[str, int]) -> list[dict[str, Any]]:
    def index(request: Request) -> Response:
        """Every sitemap is an index of ten more, without end, and one javascript: link."""
        stem = request.path.removesuffix(".xml")
        children = "".join(f"<sitemap><loc>{site.url}{stem}-{i}.xml</loc></sitemap>" for i in range(10))
        return Response('<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                        f"{children}<sitemap><loc>javascript:alert(1)</loc></sitemap></sitemapindex>",
                        content_type="application/xml")

    site.server.expect_request(re.compile(r"^/endless/.*\.xml$")).respond_with_handler(index)
    site.page("/follow/", f"<html><body><a class='art' href='/follow/{FOLLOWED.slug}'>{FOLLOWED.title}</a>"
                          "<a class='next' href='javascript:void(0)'>Page suivante</a></body></html>")
    site.page(f"/follow/{FOLLOWED.slug}", article_page(FOLLOWED))
    return [{"name": "endless", "sitemap": f"{site.url}/endless/index.xml", "max_sitemaps": 20},
            {"name": "follow", "page": f"{site.url}/follow/", "links": "a.art", "follow": "a.next", "max_pages": 3}]


DRIP = art("goutte")
LIVE = {"stderr": ""}  # what the crawl under test has logged so far
HEALTHY_FIRST: list[bool] = []


def drip_until_the_healthy_report(site: Site, _: str, __: dict[str, int]) -> list[dict[str, Any]]:
    def held(_: Request) -> Response:
        """A page that keeps its source busy until the good source's report is logged (60 s at most)."""
        deadline = datetime.now(UTC) + timedelta(seconds=60)
        while "source journal: " not in LIVE["stderr"] and datetime.now(UTC) < deadline:
            time.sleep(0.05)
        HEALTHY_FIRST.append("source journal: " in LIVE["stderr"])
        return Response(article_page(DRIP), content_type="text/html")

    site.server.expect_request("/drip/rss.xml").respond_with_data(
        rss(site.url, [DRIP]).replace("/articles/", "/drip/"), content_type="application/rss+xml")
    site.server.expect_request(f"/drip/{DRIP.slug}").respond_with_handler(held)
    site.server.expect_request("/bypass/rss.xml").respond_with_data(
        ("<!-- <rss> -->" + BOMB_FEED).encode(), content_type="application/rss+xml")
    return [{"name": "drip", "feed": f"{site.url}/drip/rss.xml"},
            {"name": "bypass", "feed": f"{site.url}/bypass/rss.xml"}]


def empty_listing(site: Site, _: str, __: dict[str, int]) -> list[dict[str, Any]]:
    site.page("/listing/", "<html><body><div class='card'><a href='/listing/x'>x</a></div></body></html>")
    return [{"name": "dinum", "page": f"{site.url}/listing/", "links": "a.fr-card__link"}]


CASES: list[Callable[[Site, str, dict[str, int]], list[dict[str, Any]]]] = [
    good_source, xml_bombs, xml_external, compression_bombs, two_gigabytes, content_types, charsets, dates,
    many_entries, duplicate_guids, hostile_links, terminal_tricks, endless_links, drip_until_the_healthy_report,
    empty_listing]


@dataclass
class Hostile:
    """The outcome of the one crawl of every case."""

    tmp: Path
    site: Site
    elsewhere: HTTPServer
    config: Path
    stdout: str  # the console alerts
    stderr: str
    started: datetime
    sent: dict[str, int]
    peak_rss: int  # the largest process of the crawl (itself or a worker), in bytes

    def rows(self) -> dict[str, dict[str, Any]]:
        return stored(self.tmp)

    def row(self, path: str) -> dict[str, Any]:
        """The stored article at this path of the site."""
        return self.rows()[self.site.url + path]

    def health(self) -> dict[str, dict[str, Any]]:
        """Each source's health, as `veille status` shows it (read from the archive: one process less)."""
        return health.all_sources(sqlite_utils.Database(self.tmp / "veille.db"))

    def fetched(self, path: str) -> int:
        return paths(self.site.server).count(path)


def feed_link(article: Article) -> str:
    """The path of an article served by `Site.feed` or `rss` (its feed link keeps utm_source)."""
    return f"/articles/{article.slug}?utm_source=rss"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    tmp = tmp_path_factory.mktemp("hostile")
    # threaded: a streamed 2 GB body must not hold up the other requests
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    elsewhere = HTTPServer(host="127.0.0.2", port=0)  # the network around: no request may reach it
    server.start()
    elsewhere.start()
    server.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    elsewhere.expect_request(re.compile(".*")).respond_with_data("secret internal data")
    site, sent = Site(server), {"page": 0, "feed": 0}
    outside = elsewhere.url_for("").rstrip("/")
    sources = [source for case in CASES for source in case(site, outside, sent)]
    config = write_config(tmp / "config.yaml", sources, crawl={"timeout": "30s", "delay": "0s", "retries": 0})
    started = datetime.now(UTC)
    # the crawl under a parent that reports the peak memory of its largest descendant; stderr read as it comes
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    process = subprocess.Popen([sys.executable, "-c", PEAK, *VEILLE, "crawl", "--config", str(config)], env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(process.stdout.read() if process.stdout else ""))
    reader.start()
    assert process.stderr is not None
    for line in process.stderr:
        LIVE["stderr"] += line
    process.wait(timeout=600)
    reader.join()
    stderr, _, peak = LIVE["stderr"].rpartition("peak-rss-kib ")
    assert process.returncode == 0, stderr
    yield Hostile(tmp, site, elsewhere, config, out[0], stderr, started, sent, int(peak) * 1024)
    for each in (server, elsewhere):
        each.clear()
        each.stop()


def test_the_good_source_is_done_while_hostile_ones_still_run_and_memory_stays_bounded(hostile: Hostile) -> None:
    assert HEALTHY_FIRST == [True], "the good source's report was logged while a hostile page was still held"
    assert hostile.row(f"/drip/{DRIP.slug}?utm_source=rss")["full_text"] == 1
    assert hostile.health()["bypass"]["last_error"] is None
    assert hostile.peak_rss < 500 * 2**20, f"peak memory {hostile.peak_rss / 2**20:.0f} MiB"


def test_the_good_source_is_unaffected_by_the_hostile_ones(hostile: Hostile) -> None:
    assert hostile.row(feed_link(GOOD))["full_text"] == 1
    assert hostile.row(feed_link(GOOD))["published"] == GOOD.published.isoformat()
    assert hostile.health()["journal"]["last_error"] is None
    assert "Traceback" not in hostile.stderr


# ---------------------------------------------------------------------------------------------------------
# XML: entity bombs and external entities


def test_xml_entity_bombs_in_a_feed_are_never_expanded(hostile: Hostile) -> None:
    for article in (XML_LAUGHS, XML_QUADRATIC):
        assert hostile.row(f"/articles/{article.slug}")["full_text"] == 1, "the bomb's entry is read, its page too"
    assert max(len(r["title"]) + len(r["text"]) for r in hostile.rows().values()) < 10_000, "nothing expanded"
    sources = hostile.health()
    assert sources["laughs"]["last_error"] is None and sources["quadratic"]["last_error"] is None


def test_external_entities_and_dtds_are_never_fetched(hostile: Hostile) -> None:
    assert hostile.elsewhere.log == [], "no DTD, external entity or parameter entity was fetched"
    assert hostile.row(f"/articles/{XML_EXTERNAL.slug}")["title"].startswith("Titre")
    assert hostile.row(f"/news/{XML_SITEMAP.slug}")["full_text"] == 1
    assert not any("secret" in r["title"] + r["text"] for r in hostile.rows().values())


def test_strip_dtd_removes_every_declaration_wherever_it_stands() -> None:
    feed = '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "]>">\n<!ENTITY b "x">\n]>\n<rss>&b;</rss>'
    assert strip_dtd(feed) == '<?xml version="1.0"?>\n\n<rss>&b;</rss>'
    netscape = '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "rss-0.91.dtd"><rss/>'
    assert strip_dtd(netscape) == "<rss/>"
    assert strip_dtd("<!-- <a> --><!doctype rss [<!ENTITY a 'b'>]><rss/>") == "<!-- <a> --><rss/>"
    assert strip_dtd('<!DOCTYPE rss [<!ENTITY a "never closed"') == ""
    plain = "<rss><title>Rien à retirer</title></rss>"
    assert strip_dtd(plain) is plain
    utf16 = '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE rss [<!ENTITY a "b">]><rss>é</rss>'.encode("utf-16")
    assert utf8_without_dtd(utf16) == "<?xml version='1.0' encoding='utf-8'?><rss>é</rss>".encode()


# a quadratic blowup that stays under expat's own amplification limit (x100): padded, it expands 60-fold
QUADRATIC = f'<!DOCTYPE rss [<!ENTITY big "{"x" * 50_000}">]>'
BOMB_FEED = (QUADRATIC + '<rss version="2.0"><channel><!--' + " " * 400_000 + "--><item><title>" + "&big;" * 600
             + "</title><link>http://127.0.0.1/a</link></item></channel></rss>")


@pytest.mark.parametrize(("name", "body"), [
    ("after a comment hiding an element", ("<!-- <rss> -->" + BOMB_FEED).encode()),
    ("after a processing instruction", ('<?xml version="1.0"?><?style <b>?>' + BOMB_FEED).encode()),
    ("in UTF-32", ('<?xml version="1.0" encoding="utf-32"?>' + BOMB_FEED).encode("utf-32")),
    ("in UTF-16 without a BOM", ('<?xml version="1.0" encoding="utf-16le"?>' + BOMB_FEED).encode("utf-16-le")),
    ("in EBCDIC", ('<?xml version="1.0" encoding="cp037"?>' + BOMB_FEED).encode("cp037")),
    ("after junk text", ("junk " + BOMB_FEED).encode()),
])
def test_no_entity_is_expanded_whatever_precedes_the_doctype_or_the_encoding(name: str, body: bytes) -> None:
    try:
        entries = parse_feed(body)
    except FeedError:
        return  # unreadable is fine: expanded is not
    assert all(len(e.title) < 10_000 for e in entries), name


# ---------------------------------------------------------------------------------------------------------
# Sizes: compression bombs and a 2 GB body


def test_compression_bombs_stop_at_max_bytes_once_decompressed(hostile: Hostile) -> None:
    accepted = [r.headers.get("Accept-Encoding", "") for r, _ in hostile.site.server.log if r.path == "/zip/rss.xml"]
    assert "br" in accepted[0], "brotli is installed, so the br bomb is decoded (and bounded) too"
    assert hostile.row(feed_link(ZIP_GOOD))["full_text"] == 1
    for article in BOMB_PAGES.values():
        row = hostile.row(feed_link(article))
        assert (row["full_text"], row["text"]) == (0, article.summary), "the feed's text is kept"
    sources = hostile.health()
    assert sources["zipped"]["last_error"] is None
    assert "exceeded DOWNLOAD_MAXSIZE (1000000 B) during decompression" in sources["zipbomb"]["last_error"]
    assert "decompressed so far (1048576 B) exceeded the specified maximum" in sources["gzsitemap"]["last_error"]


def test_a_2_gb_body_is_cut_at_max_bytes_without_being_sent_whole(hostile: Hostile) -> None:
    assert hostile.row(feed_link(HUGE_GOOD))["full_text"] == 1
    row = hostile.row(feed_link(HUGE))
    assert (row["full_text"], row["text"]) == (0, HUGE.summary)
    assert 0 < hostile.sent["page"] < 100 * MB and 0 < hostile.sent["feed"] < 100 * MB, hostile.sent
    sources = hostile.health()
    assert sources["streamed"]["last_error"] is None
    assert "larger than download max size (1000000)" in sources["huge"]["last_error"]
    assert (f"article page {hostile.site.url}{feed_link(HUGE)}: DownloadCancelledError: its body grew past "
            "max_bytes") in hostile.stderr


# ---------------------------------------------------------------------------------------------------------
# Content: types, encodings, dates


def test_pdf_and_images_at_article_urls_keep_the_feed_text(hostile: Hostile) -> None:
    assert hostile.row(feed_link(TYPES_GOOD))["full_text"] == 1
    for article in (PDF, IMAGE, UNTYPED, SVG):
        row = hostile.row(feed_link(article))
        assert (row["full_text"], row["text"], row["title"]) == (0, article.summary, article.title)
    assert hostile.health()["types"]["last_error"] is None


def test_invalid_utf8_and_wrong_declared_charsets_are_read(hostile: Hostile) -> None:
    liar = hostile.row(feed_link(LIAR))
    # read as the server says (UTF-8): its accents become U+FFFD, the rest of its text is kept
    assert liar["full_text"] == 1 and all(line.split()[-1] in liar["text"] for line in LIAR.body)
    assert liar["title"] == LIAR.title, "the feed's own title, correctly declared, wins"
    broken = hostile.row(feed_link(BROKEN))
    assert broken["full_text"] == 1 and BROKEN.body[0][:40] in broken["text"] and "invalides" in broken["text"]
    assert broken["title"].startswith("Article") and broken["title"].endswith("utf8-casse")
    assert hostile.health()["charsets"]["last_error"] is None


def test_a_utf8_feed_with_stray_bytes_is_repaired_and_any_other_left_to_feedparser() -> None:
    assert repaired_utf8("é".encode() + b" \xff") == "é \ufffd".encode()
    assert repaired_utf8("é".encode() + b" \xff", "application/rss+xml; charset=UTF-8") == "é \ufffd".encode()
    latin1 = b"<?xml version='1.0' encoding='utf-8'?><title>caf\xe9</title>"  # declared UTF-8, is Latin-1
    assert repaired_utf8(latin1) is latin1
    declared = b"<?xml version='1.0' encoding='iso-8859-1'?><title>" + "é".encode() + b"\xff</title>"
    assert repaired_utf8(declared) is declared
    assert repaired_utf8(b"\xc3\xa9\xff", "text/xml; charset=windows-1252") == b"\xc3\xa9\xff"


def test_dates_in_the_future_in_1970_or_unreadable(hostile: Hostile) -> None:
    """Decision: a date in the future is clamped to the fetch time; a date before 1995 (1970-01-01, a zeroed
    date) and an unreadable one are unknown, so the page's date or the fetch time stands in."""
    for slug in ("futur", "demain"):
        row = hostile.row(f"/dates/{slug}")
        published = datetime.fromisoformat(row["published"])
        assert hostile.started - timedelta(seconds=1) <= published <= datetime.fromisoformat(row["fetched_at"])
    for slug in ("epoch", "illisible"):
        assert hostile.row(f"/dates/{slug}")["published"] is None, slug
    assert hostile.health()["dates"]["last_error"] is None


def test_plausible_dates() -> None:
    now = datetime(2026, 5, 1, 12, 0, 0, 500, tzinfo=UTC)
    assert plausible_date("2099-01-01T00:00:00+00:00", now) == "2026-05-01T12:00:00+00:00"
    assert plausible_date("1970-01-01T00:00:00+00:00", now) is None
    assert plausible_date("not a date", now) is None
    assert plausible_date("2026-04-30T10:00:00+02:00", now) == "2026-04-30T08:00:00+00:00"


# ---------------------------------------------------------------------------------------------------------
# Feed shapes: 10,000 entries, duplicate GUIDs, hostile links; a listing page matching nothing


def test_a_feed_of_10000_entries_is_bounded_by_max_articles(hostile: Hostile) -> None:
    assert len([p for p in paths(hostile.site.server) if p.startswith("/many/n")]) == 5
    assert len([url for url in hostile.rows() if "/many/n" in url]) == 5
    many = hostile.health()["many"]
    assert many["last_error"] is None and many["items_new"] == 5


def test_duplicate_guids_within_a_feed_make_one_article(hostile: Hostile) -> None:
    rows = {url: row for url, row in hostile.rows().items() if "/guid/" in url}
    assert sorted(row["guid"] for row in rows.values()) == ["other", "same"]
    assert hostile.row(f"/guid/{GUID_FIRST.slug}")["title"] == GUID_FIRST.title, "the first entry wins"
    assert hostile.fetched(f"/guid/{GUID_SECOND.slug}") == 0, "the repeated GUID's page is not fetched"
    assert "GUID already given" in hostile.stderr
    assert hostile.health()["guids"]["last_error"] is None


def test_javascript_data_file_and_relative_links(hostile: Hostile) -> None:
    rows = {url: row for url, row in hostile.rows().items() if "/links/" in url}
    assert set(rows) == {f"{hostile.site.url}/links/{LINKS_ABSOLUTE.slug}",
                         f"{hostile.site.url}/links/feeds/{LINKS_RELATIVE.slug}"}, "relative links resolved"
    assert all(row["full_text"] == 1 for row in rows.values())
    assert not any(url.split(":", 1)[0] not in ("http", "https") for url in hostile.rows())
    assert hostile.elsewhere.log == []
    assert f"skipped 6 link(s) of {hostile.site.url}/links/feeds/rss.xml (only http(s) links" in hostile.stderr
    outside = hostile.elsewhere.url_for("/x")
    assert f"refused {outside}: a source on a private host may only link to that host" in hostile.stderr
    assert hostile.health()["links"]["last_error"] is None


def test_an_endless_sitemap_index_stops_at_max_sitemaps_and_sitemap_depth(hostile: Hostile) -> None:
    fetched = [p for p in paths(hostile.site.server) if p.startswith("/endless/")]
    assert len(fetched) == 1 + 20, "the index and max_sitemaps children, nothing past sitemap_depth (2)"
    assert "more child sitemaps than max_sitemaps (20)" in hostile.stderr
    assert "is an index deeper than sitemap_depth (2): not followed" in hostile.stderr
    assert hostile.health()["endless"]["last_error"] is None


def test_non_web_links_in_sitemaps_and_next_pages_are_skipped_and_counted_never_fatal(hostile: Hostile) -> None:
    assert f"skipped 1 link(s) of {hostile.site.url}/endless/index.xml (only http(s) links" in hostile.stderr
    assert f"skipped 1 link(s) of {hostile.site.url}/follow/ (only http(s) links" in hostile.stderr
    assert hostile.row(f"/follow/{FOLLOWED.slug}")["full_text"] == 1
    assert hostile.health()["follow"]["last_error"] is None


# ---------------------------------------------------------------------------------------------------------
# What reaches a terminal, a spreadsheet, the archive


def test_control_characters_reach_neither_the_archive_nor_any_output(hostile: Hostile) -> None:
    title = hostile.row(f"/tty/{TERMINAL.slug}")["title"]
    # (feedparser reads the C1 CSI as Windows-1252 would: a ›)
    assert title == "Le cloud souverain ]52;c;ZXZpbA==[2J[31m rouge ›32m elif.exe fin"
    config = str(hostile.config)
    outputs = {"console alerts": hostile.stdout}
    for name, args in {"search": ["search", "cloud souverain", "--all-copies"],
                       "search --json": ["search", "cloud souverain", "--json"],
                       "search --csv": ["search", "cloud souverain", "--csv"],
                       "export csv": ["export", "--format", "csv"], "export jsonl": ["export", "--format", "jsonl"]
                       }.items():
        result = run_veille(*args, "--config", config)
        assert result.returncode == 0, result.stderr
        outputs[name] = result.stdout
    assert "rouge" in outputs["console alerts"] and "rouge" in outputs["export csv"]
    for name, text in outputs.items():
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text), name


def test_no_stored_field_passes_its_size(hostile: Hostile) -> None:
    title = hostile.row(f"/tty/{LONG_TITLE.slug}")["title"]
    assert title.startswith("Le cloud souverain long") and len(title) == 1_000
    assert max(len(r["title"]) for r in hostile.rows().values()) <= 1_000


def test_csv_cells_never_run_as_spreadsheet_formulas(hostile: Hostile) -> None:
    for args in (["search", "cloud souverain", "--csv"], ["export", "--format", "csv"]):
        result = run_veille(*args, "--config", str(hostile.config))
        titles = [row["title"] for row in csv.DictReader(io.StringIO(result.stdout))]
        assert '\'=HYPERLINK("http://127.0.0.2/x";"cloud souverain")' in titles, args
        assert not any(t.startswith(("=", "+", "-", "@")) for t in titles), args


def test_an_article_whose_page_failed_keeps_the_normalised_url(hostile: Hostile) -> None:
    row = hostile.row(f"/raw/un%20lien%3Cb%3E{RAW_LINK.slug}")
    assert row["full_text"] == 0 and row["title"] == "Le lien brut"
    assert not re.search(r"[\s<>]", row["url"] + row["canonical_url"])


def test_a_listing_page_whose_selector_matches_nothing_is_its_sources_error(hostile: Hostile) -> None:
    error = hostile.health()["dinum"]["last_error"]
    assert error == f"{hostile.site.url}/listing/: no link matches links: 'a.fr-card__link'"
    assert f"source dinum: {error}" in hostile.stderr
    assert hostile.fetched("/listing/x") == 0


def test_fields_are_cleaned_of_every_control_but_newline_and_tab_and_cut_to_size() -> None:
    row = fields.cleaned({"title": "a\x1b[2J\u009b1m\u202eb\r\nc", "text": "l1\nl2\t\x07\x00fin", "author": "x" * 900,
                          "full_text": 1})
    assert row == {"title": "a[2J1mb c", "text": "l1\nl2\tfin", "author": "x" * 500, "full_text": 1}
    message = alert_message(QueuedAlert(title="Titre \x1b]52;c;eA==\x07", url="http://127.0.0.1/a", source="s\x9b",
                                        text="Le cloud\x1b[31m souverain.", topic="t"),
                            ["cloud souverain"], "Europe/Paris")
    assert "\x1b" not in message.plain + message.html and "\x9b" not in message.plain
