"""The private-network guard: links of a feed reach only where the source may, refused before any connection.

No test here sends a packet outside 127.0.0.0/8: addresses such as 10.0.0.1 are only handed to the guard,
which must refuse them before any download is attempted.
"""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from scrapy import Request
from scrapy.utils.test import get_crawler

from crawler.middlewares import AddressGuardMiddleware, AddressRefused, GuardedResolver
from tests.conftest import SOVEREIGN, UNRELATED, Site, article_page, rss, run_veille
from tests.test_crawl_sources import crawl, stored, write_config


def guard(source_url: str) -> AddressGuardMiddleware:
    return AddressGuardMiddleware.from_crawler(get_crawler(settings_dict={"VEILLE_SOURCE_URL": source_url}))


@pytest.mark.parametrize("link", ["http://10.0.0.1/x", "http://169.254.169.254/latest/meta-data/",
                                  "http://[::1]:8080/", "http://127.0.0.1/admin", "gopher://93.184.215.14/"])
def test_a_public_source_cannot_lead_to_private_addresses(link: str) -> None:
    middleware = guard("http://93.184.215.14/feed.xml")
    with pytest.raises(AddressRefused):
        asyncio.run(middleware.process_request(Request(link)))


def test_a_public_source_may_lead_to_public_addresses_and_is_itself_trusted() -> None:
    middleware = guard("http://93.184.215.14/feed.xml")
    assert asyncio.run(middleware.process_request(Request("http://93.184.215.15/article"))) is None
    trusted = guard("http://10.0.0.1/feed.xml")  # written by an admin in config: trusted as written
    assert asyncio.run(trusted.process_request(Request("http://10.0.0.1/feed.xml"))) is None
    with pytest.raises(AddressRefused):
        asyncio.run(trusted.process_request(Request("http://169.254.169.254/")))


def test_the_connect_time_resolver_is_installed_and_refuses_private_answers_for_untrusted_names() -> None:
    from twisted.internet import reactor
    from twisted.internet.error import DNSLookupError

    guard("http://93.184.215.14/feed.xml")
    assert isinstance(getattr(reactor, "resolver", None), GuardedResolver)
    with pytest.raises(DNSLookupError, match="non-public"):
        GuardedResolver._checked("10.0.0.1", "rebinding.example")
    assert GuardedResolver._checked("93.184.215.14", "rebinding.example") == "93.184.215.14"


@pytest.fixture
def elsewhere() -> Iterator[HTTPServer]:
    """Another loopback host (127.0.0.2), standing for the network the crawler runs in."""
    server = HTTPServer(host="127.0.0.2", port=0)
    server.start()
    server.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    server.expect_request("/secret").respond_with_data("<html><body><p>internal</p></body></html>")
    yield server
    server.clear()
    server.stop()


def test_links_and_redirects_to_another_private_host_are_never_fetched(tmp_path: Path, site: Site,
                                                                        elsewhere: HTTPServer) -> None:
    secret = elsewhere.url_for("/secret")
    feed = rss(site.url, [SOVEREIGN, UNRELATED]).replace(
        "</channel>", f"<item><title>internal</title><link>{secret}</link></item>"
                      "<item><title>file</title><link>file:///etc/passwd</link></item></channel>")
    site.server.expect_request("/rss.xml").respond_with_data(feed, content_type="application/rss+xml")
    site.page(f"/articles/{SOVEREIGN.slug}", article_page(SOVEREIGN))
    site.server.expect_request(f"/articles/{UNRELATED.slug}").respond_with_data(
        "", status=302, headers={"Location": secret})
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": f"{site.url}/rss.xml"}])
    stderr = crawl(config)
    assert elsewhere.log == [], "nothing reached the other host, not even its robots.txt"
    urls = set(stored(tmp_path))
    assert urls == {f"{site.url}/articles/{SOVEREIGN.slug}?utm_source=rss"}
    assert "refused" in stderr
    assert run_veille("status", "--config", str(config)).returncode == 0


def test_a_private_source_reaches_only_its_own_port_of_its_host(tmp_path: Path, site: Site) -> None:
    internal = HTTPServer(host="127.0.0.1", port=0)  # another service of the news host, on another port
    internal.start()
    internal.expect_request("/admin").respond_with_data("<html><body><p>cloud souverain interne</p></body></html>")
    try:
        admin = internal.url_for("/admin")
        feed = rss(site.url, [SOVEREIGN]).replace(
            "</channel>", f"<item><title>interne</title><link>{admin}</link></item></channel>")
        site.server.expect_request("/rss.xml").respond_with_data(feed, content_type="application/rss+xml")
        site.page(f"/articles/{SOVEREIGN.slug}", article_page(SOVEREIGN))
        config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": f"{site.url}/rss.xml"}])
        stderr = crawl(config)
        assert internal.log == [], "the other port was never contacted, not even for its robots.txt"
        assert set(stored(tmp_path)) == {f"{site.url}/articles/{SOVEREIGN.slug}?utm_source=rss"}
        assert f"refused {admin}: a source on a private host may only link to that host ({site.url})" in stderr
    finally:
        internal.clear()
        internal.stop()
