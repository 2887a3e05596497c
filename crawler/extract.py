"""Main-text extraction: an article page's own words and metadata, without menus, sidebars and footers.

    extract(html, url)                      the work itself (trafilatura), in the calling process
    await extract_bounded(html, url, 20.0, source=...)
                                            the same in a worker process (crawler.workers: fair between
                                            sources), abandoned past the time limit: None then

Extraction off the reactor's process, where it would hold the GIL: fetching, dedup, storage and matching
go on while pages are extracted on the other cores.
"""

import logging
from dataclasses import dataclass

import trafilatura
from pebble.common import ProcessExpired

from crawler.language import article_language
from crawler.published import page_published
from crawler.workers import run_bounded

log = logging.getLogger("veille.crawl")

# extensive_search reads every date-like string of the page (scripts included): about three quarters of
# extraction time on a 100 KB page, so only done when neither the feed nor the page's metadata gave a time.
# htmldate finds a date without its time of day: said as a date alone, never as midnight
_DATE_OPTIONS = {"extensive_search": True, "original_date": True, "outputformat": "%Y-%m-%d"}
_QUICK_DATE_OPTIONS = {**_DATE_OPTIONS, "extensive_search": False}


@dataclass(frozen=True)
class Extracted:
    """What trafilatura found in a page."""

    title: str | None
    text: str
    author: str | None
    published: str | None  # the page's declared time (ISO 8601, UTC), else the date found in it (2026-12-02)
    language: str | None  # declared by the page, else detected in its text (ISO 639-1)
    canonical: str | None


def extract(html: str | bytes, url: str, find_date: bool = True) -> Extracted | None:
    """The main text and metadata of an article page, or None when the page has no main text.

    `find_date`: search the whole page for a publication date when its metadata has none (slow).
    """
    tree = trafilatura.load_html(html)  # the page as trafilatura reads it, for what it does not read itself
    if tree is None:
        return None
    published = page_published(tree)
    find_date = find_date and published is None
    doc = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, include_tables=True,
        favor_precision=True, date_extraction_params=_DATE_OPTIONS if find_date else _QUICK_DATE_OPTIONS)
    if doc is None or isinstance(doc, dict) or not doc.text:
        return None
    return Extracted(title=doc.title, text=doc.text, author=doc.author, published=published or doc.date,
                     language=article_language(tree, doc.text), canonical=doc.url)


async def extract_bounded(html: str, url: str, timeout: float, find_date: bool = True, *,
                          source: str = "") -> Extracted | None:
    """extract() in the pool, in `source`'s turn, within `timeout` seconds; None (and a log line saying why)
    past it."""
    try:
        return await run_bounded(extract, (html, url, find_date), source=source, timeout=timeout)
    except TimeoutError:
        log.warning("article page %s: extraction took over %gs and was stopped (crawl.extract_timeout); "
                    "keeping the feed's text", url, timeout)
    except ProcessExpired as exc:
        log.warning("article page %s: the extraction worker died (%s); keeping the feed's text", url, exc)
    except Exception as exc:  # a page that breaks trafilatura (or a library it calls) is one article's problem
        log.warning("article page %s: extraction failed (%s: %s); keeping the feed's text",
                    url, type(exc).__name__, exc)
    return None
