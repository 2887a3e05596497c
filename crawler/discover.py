"""Feed discovery: the feeds a home page advertises with <link rel="alternate">, fetched by Scrapy."""

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import scrapy
from parsel import Selector
from scrapy.crawler import AsyncCrawlerRunner, Crawler
from scrapy.http import Request, Response, TextResponse
from twisted.python.failure import Failure

from crawler.config import CrawlConfig, Source
from crawler.settings import crawl_settings

FEED_TYPES = {"application/rss+xml": "RSS", "application/atom+xml": "Atom", "application/rdf+xml": "RDF",
              "application/feed+json": "JSON Feed", "application/json": "JSON Feed"}


@dataclass(frozen=True)
class Advertised:
    """A feed a page advertises: its absolute URL, title and format."""

    url: str
    title: str
    kind: str


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
    """A config-ready source name from a feed's title, else from its host."""
    words = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
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
