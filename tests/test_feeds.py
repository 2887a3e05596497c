"""Reading feeds, sitemaps, Retry-After and the address policy: pure functions on plain inputs."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler.addresses import Reach, answer_refusal, is_public, refusal
from crawler.feeds import FeedError, parse_feed
from crawler.middlewares import backoff, retry_after
from crawler.sitemaps import read_sitemap
from storage.health import backoff_delay

FEEDS = Path(__file__).parent / "feeds"


def read(name: str, content_type: str = "application/xml") -> list[tuple[str, str]]:
    return [(e.link, e.title) for e in parse_feed((FEEDS / name).read_bytes(), content_type, "http://x.test/f")]


@pytest.mark.parametrize(("name", "title"), [
    ("rss20-iso-8859-1.xml", "Réforme du numérique : l'État et le cloud"),
    ("rss20-iso-8859-15.xml", "Un budget de 10 € pour l'été"),
    ("rss20-windows-1252.xml", "“Cloud de confiance” – le débat €"),
    ("declared-utf8-is-latin1.xml", "Déclaré utf-8 mais latin-1"),
    ("utf16.xml", "Encodé en UTF-16"),
    ("utf8-bom.xml", "UTF-8 avec BOM é"),
])
def test_declared_and_misdeclared_encodings_are_decoded(name: str, title: str) -> None:
    assert read(name)[0][1] == title


@pytest.mark.parametrize(("name", "link"), [
    ("rss090-rdf.xml", "http://x.test/articles/rss090"),
    ("rss091.xml", "http://x.test/articles/rss091"),
    ("rss092.xml", "http://x.test/articles/rss092"),
    ("rss10-rdf.xml", "http://x.test/articles/rdf1"),
    ("atom03.xml", "http://x.test/articles/atom03"),
    ("atom10.xml", "http://x.test/articles/atom10"),
])
def test_every_feed_format_yields_its_entries(name: str, link: str) -> None:
    assert read(name)[0][0] == link


def test_json_feed_entries_through_the_adapter() -> None:
    entries = parse_feed((FEEDS / "jsonfeed11.json").read_bytes(), "application/feed+json")
    assert [e.link for e in entries] == ["/articles/json1", "/articles/json2"]
    assert entries[0].title == "JSON Feed item"
    assert entries[0].summary == "Du HTML"
    assert entries[0].published == "2024-05-01T06:00:00+00:00"
    assert entries[0].author == "La rédaction"
    assert entries[1].guid == "2"
    # recognised by its first character too, when served as text/plain
    assert parse_feed((FEEDS / "jsonfeed10.json").read_bytes(), "text/plain")[0].author == "Alice"


def test_a_malformed_feed_yields_what_can_be_recovered() -> None:
    assert [title for _, title in read("broken-unclosed.xml")] == ["Recovered despite the breakage",
                                                                    "Second & unescaped"]
    assert read("broken-entity.xml")[0][1] == "Café & numérique"


@pytest.mark.parametrize("name", ["empty-channel.xml", "not-a-feed.html", "binary-garbage.bin", "broken.json",
                                  "items-without-links.xml"])
def test_a_feed_without_any_entry_is_an_error(name: str) -> None:
    with pytest.raises(FeedError, match="not a readable"):
        parse_feed((FEEDS / name).read_bytes(), "application/json" if name.endswith(".json") else None)


NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>https://x.test/news/1</loc><news:news><news:publication><news:name>X</news:name>
    <news:language>fr</news:language></news:publication>
    <news:publication_date>2024-01-02T10:00:00+01:00</news:publication_date>
    <news:title>Le titre</news:title></news:news></url>
  <url><loc>https://x.test/about</loc><lastmod>2024-02-01</lastmod></url>
</urlset>"""


def test_google_news_sitemap_dates_and_titles() -> None:
    kind, links = read_sitemap(NEWS_SITEMAP)
    assert kind == "urlset"
    assert [(s.loc, s.date, s.title) for s in links] == [
        ("https://x.test/news/1", "2024-01-02T09:00:00+00:00", "Le titre"),
        ("https://x.test/about", "2024-02-01T00:00:00+00:00", "")]
    with pytest.raises(ValueError, match="not a"):
        read_sitemap(b"<html><body>no</body></html>")


@pytest.mark.parametrize(("url", "addresses", "refused"), [
    ("http://10.0.0.1/x", ["10.0.0.1"], True),
    ("http://169.254.169.254/latest/meta-data/", ["169.254.169.254"], True),
    ("http://[::1]/x", ["::1"], True),
    ("http://[::ffff:10.0.0.1]/x", ["::ffff:10.0.0.1"], True),
    ("http://intranet.example/x", ["192.168.1.10"], True),
    ("http://mixed.example/x", ["93.184.215.14", "127.0.0.1"], True),
    ("http://nowhere.example/x", [], True),
    ("file:///etc/passwd", [], True),
    ("https://www.example.org/x", ["93.184.215.14"], False),
])
def test_links_of_a_public_source_reach_public_addresses_only(url: str, addresses: list[str],
                                                               refused: bool) -> None:
    assert (refusal(url, addresses, Reach.of_source("https://news.example/", ["93.184.215.10"])) is not None) is refused


@pytest.mark.parametrize("address", [
    "64:ff9b::7f00:1", "64:ff9b:1::a00:1", "2002:7f00:1::1", "::7f00:1", "::ffff:127.0.0.1", "fec0::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2", "100::1", "ff02::1", "fe80::1%eth0", "::", "10.0.0.1",
])
def test_no_ipv6_form_of_an_ipv4_address_nor_any_non_global_range_is_public(address: str) -> None:
    assert not is_public(address)


def test_links_of_a_private_source_reach_that_same_origin_only() -> None:
    reach = Reach.of_source("http://127.0.0.1:8080/rss.xml", ["127.0.0.1"])
    assert refusal("http://127.0.0.1:8080/a", ["127.0.0.1"], reach) is None
    assert refusal("http://127.0.0.1:8081/admin", ["127.0.0.1"], reach) is not None, "another port"
    assert refusal("https://127.0.0.1:8080/a", ["127.0.0.1"], reach) is not None, "another scheme"
    assert refusal("http://127.0.0.1:99999/a", ["127.0.0.1"], reach) is not None, "no port at all"
    assert refusal("http://127.0.0.2/a", ["127.0.0.2"], reach) is not None
    assert refusal("https://www.example.org/a", ["93.184.215.14"], reach) is not None
    assert not is_public("100.64.0.1") and not is_public("fd00::1") and is_public("2a00:1450::1")


def test_at_connect_time_a_name_answering_a_private_address_is_refused_unless_a_source_lives_there() -> None:
    assert answer_refusal("rebind.example", "10.0.0.1", {"intranet.local"}) is not None
    assert answer_refusal("rebind.example", "169.254.169.254", set()) is not None
    assert answer_refusal("intranet.local", "10.0.0.1", {"intranet.local"}) is None
    assert answer_refusal("news.example", "93.184.215.14", set()) is None


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    assert retry_after(b"120", now) == 120
    assert retry_after(b"Mon, 01 Jan 2024 00:00:30 GMT", now) == 30
    assert retry_after(b"soon", now) is None
    assert retry_after(None, now) is None
    assert [backoff(n) for n in range(3)] == [0.5, 1.0, 2.0]


def test_a_failing_source_backs_off_exponentially_up_to_a_ceiling() -> None:
    hour, ceiling = timedelta(hours=1), timedelta(hours=6)
    assert [backoff_delay(n, hour, ceiling) / hour for n in range(6)] == [0, 1, 2, 4, 6, 6]
