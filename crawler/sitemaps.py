"""Reading sitemaps (and sitemap indexes, and Google News sitemaps) with Scrapy's own sitemap parser."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import lxml.etree
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap

from crawler.entries import iso_from_text


class NewsSitemap(Sitemap):
    """Scrapy's Sitemap, also reading a Google News entry's <news:publication_date> and <news:title>."""

    __slots__ = ()

    def _process_sitemap_element(self, elem: lxml.etree._Element) -> dict[str, Any] | None:
        news: dict[str, str] = {}
        for child in elem:
            if self._get_tag_name(child) == "news":
                for field in child.iter():
                    name = self._get_tag_name(field)
                    if name in ("publication_date", "title") and field.text:
                        news[f"news_{name}"] = field.text.strip()
        found = super()._process_sitemap_element(elem)
        return {**found, **news} if found is not None else None


@dataclass(frozen=True)
class SitemapLink:
    """One <loc> of a sitemap or sitemap index, with its date (publication or lastmod) and news title."""

    loc: str
    date: str | None
    title: str


def read_sitemap_body(body: bytes, max_size: int) -> tuple[str, list[SitemapLink]]:
    """read_sitemap() of a response's body, gunzipped first (up to `max_size` bytes) when it is gzip."""
    if body[:2] == b"\x1f\x8b":
        try:
            body = gunzip(body, max_size=max_size)
        except (OSError, ValueError) as exc:
            raise ValueError(f"not a readable gzip sitemap ({exc or type(exc).__name__})") from None
    return read_sitemap(body)


def read_sitemap(body: bytes) -> tuple[str, list[SitemapLink]]:
    """('urlset' or 'sitemapindex', its links); a ValueError when the document is no sitemap."""
    try:
        sitemap = NewsSitemap(body)
    except (lxml.etree.XMLSyntaxError, StopIteration) as exc:
        raise ValueError(f"not a readable sitemap: {str(exc) or 'not XML'}") from None
    if sitemap.type not in ("urlset", "sitemapindex"):
        raise ValueError(f"not a sitemap: the document is a <{sitemap.type}>")
    links = [SitemapLink(loc=d["loc"], title=d.get("news_title", ""),
                         date=iso_from_text(d.get("news_publication_date")) or iso_from_text(d.get("lastmod")))
             for d in sitemap if d.get("loc")]
    return sitemap.type, links


def is_recent(link: SitemapLink, since: datetime) -> bool:
    """Whether a link is dated on or after `since`; an undated link counts as recent (nothing says otherwise)."""
    return link.date is None or datetime.fromisoformat(link.date) >= since
