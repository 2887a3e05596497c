"""Source discovery: the feeds a home page advertises (<link rel="alternate">) and its robots.txt sitemaps."""

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import scrapy
from parsel import Selector
from scrapy.crawler import AsyncCrawlerRunner, Crawler
from scrapy.http import Request, Response, TextResponse
from scrapy.utils.sitemap import sitemap_urls_from_robots
from twisted.python.failure import Failure

from crawler.config import CrawlConfig, Source
from crawler.feeds import FeedError, parse_feed
from crawler.settings import crawl_settings
from storage.text import ascii_fold

FEED_TYPES = {"application/rss+xml": "RSS", "application/atom+xml": "Atom", "application/rdf+xml": "RDF",
              "application/feed+json": "JSON Feed", "application/json": "JSON Feed"}


@dataclass(frozen=True)
class Advertised:
    """A feed or sitemap a site advertises: its absolute URL, title and format."""

    url: str
    title: str
    kind: str

    @property
    def key(self) -> str:
        """The config key of a source reading it: sitemap: or feed:."""
        return "sitemap" if self.kind == "sitemap" else "feed"


def advertised_feeds(html: str, base_url: str) -> list[Advertised]:
    """The feeds a page links to with <link rel="alternate" type="...rss/atom/json...">, in page order."""
    page = Selector(text=html, base_url=base_url)
    base = page.xpath("//base/@href").get() or base_url
    found: dict[str, Advertised] = {}
    for link in page.xpath("//link[@href]"):
        rels = (link.attrib.get("rel") or "").lower().split()
        kind = FEED_TYPES.get((link.attrib.get("type") or "").lower().split(";")[0].strip())
        if "alternate" in rels and kind:
            url = urljoin(base, link.attrib["href"].strip())
            found.setdefault(url, Advertised(url, " ".join((link.attrib.get("title") or "").split()), kind))
    return list(found.values())


def source_name(title: str, url: str) -> str:
    """A config-ready source name from a feed's title (accents folded), else from its host."""
    words = re.sub(r"[^a-z0-9]+", "-", ascii_fold(title)).strip("-")
    host = (urlsplit(url).hostname or "source").removeprefix("www.").replace(".", "-")
    return (words or host)[:40].strip("-") or "source"


class _OnePage(scrapy.Spider):
    """Fetch one page with every politeness rule of a crawl, and keep the response."""

    name = "veille-discover"

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.url = url
        self.response: Response | None = None
        self.error: str | None = None

    async def start(self) -> AsyncIterator[Request]:
        yield Request(self.url, callback=self.keep, errback=self.failed, dont_filter=True)

    def keep(self, response: Response) -> None:
        self.response = response

    def failed(self, failure: Failure) -> None:
        from crawler.spiders import describe

        self.error = describe(failure)


async def fetch_page(url: str, defaults: CrawlConfig) -> tuple[TextResponse | None, str | None]:
    """One page fetched politely: (the response, None) or (None, why not)."""
    settings = crawl_settings(defaults, Source(name="discover", feed=url))  # type: ignore[arg-type]
    settings["ITEM_PIPELINES"] = {}
    crawler = Crawler(_OnePage, settings)
    await AsyncCrawlerRunner(crawler.settings).crawl(crawler, url=url)
    spider = crawler.spider
    assert isinstance(spider, _OnePage)
    if spider.response is None:
        return None, spider.error or f"nothing fetched from {url}"
    if not isinstance(spider.response, TextResponse):
        return None, f"{url} is not a text page"
    return spider.response, None


def _content_type(response: TextResponse) -> str:
    return (response.headers.get("Content-Type") or b"").decode("latin-1")


async def discover(url: str, defaults: CrawlConfig) -> tuple[list[Advertised], str | None]:
    """The feeds a page advertises (or the page itself, when it is a feed) and the sitemaps of its robots.txt."""
    response, error = await fetch_page(url, defaults)
    if response is None:
        return [], error
    found = advertised_feeds(response.text, response.url)
    if not found:
        try:  # the URL given may be a feed itself
            parse_feed(response.body, _content_type(response), response.url)
            found = [Advertised(response.url, "", "feed")]
        except FeedError:
            pass
    robots, _ = await fetch_page(urljoin(response.url, "/robots.txt"), defaults)
    if robots is not None and robots.status == 200:
        found += [Advertised(u, "", "sitemap") for u in sitemap_urls_from_robots(robots.body, robots.url)]
    return found, None
