"""Main-text extraction: an article page's own words and metadata, without menus, sidebars and footers.

    extract(html, url)                      the work itself (trafilatura), in the calling process
    await extract_bounded(html, url, 20.0, source=...)
                                            the same in a worker process (crawler.workers: fair between
                                            sources), abandoned past the time limit: None then

trafilatura runs in precision mode, guarded by its balanced mode where precision kept a short text (see
PRECISE_ENOUGH); its metadata pass only when the caller needs the page's title, author or date.

Extraction off the reactor's process, where it would hold the GIL: fetching, dedup, storage and matching
go on while pages are extracted on the other cores. trafilatura is imported by `extract` itself: the workers
have it (their forkserver preloads it), the crawler's process never loads it (38 MiB).
"""

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from lxml.html import HtmlElement
from pebble.common import ProcessExpired

from crawler.language import article_language
from crawler.published import page_published
from crawler.workers import run_bounded

if TYPE_CHECKING:
    from trafilatura.settings import Document

log = logging.getLogger("veille.crawl")

# extensive_search reads every date-like string of the page (scripts included): about three quarters of
# extraction time on a 100 KB page, so only done when neither the feed nor the page's metadata gave a time.
# htmldate finds a date without its time of day: said as a date alone, never as midnight
_DATE_OPTIONS = {"extensive_search": True, "original_date": True, "outputformat": "%Y-%m-%d"}
_QUICK_DATE_OPTIONS = {**_DATE_OPTIONS, "extensive_search": False}

# The precision guard. Precision mode keeps less of a page's boilerplate than the balanced mode, but on some
# pages it keeps one short block (a reprint notice) and drops the article: when its text is shorter than
# PRECISE_ENOUGH characters and than GUARD_RATIO of the balanced text, the balanced text is kept. Measured
# with bench/extraction.py (bench/results.md): on the 181 pages of Zyte's article-extraction benchmark, F1
# 0.964 -> 0.969 (one page: 260 characters of reprint notice instead of a 3,213-character article; the same
# for any ratio from 0.1 to 0.35 and minimum from 500 to 2,500); on trafilatura's 884 evaluation pages (its
# snippet metric), 0.9215 -> 0.9258, 18 pages switched, as with a minimum of 2,000 and within 0.0015 of it
# for ratios 0.2-0.35 x minimums 1,000-3,000. Precision is right on longer texts: a page kept 2,587
# characters where the balanced mode added a list of ten teasers (ratio 0.28). The balanced pass runs only
# under the minimum: on 18% of those pages (27% with 2,000).
PRECISE_ENOUGH = 1500
GUARD_RATIO = 0.3


@dataclass(frozen=True)
class Extracted:
    """What trafilatura found in a page."""

    title: str | None
    text: str
    author: str | None
    published: str | None  # the page's declared time (ISO 8601, UTC), else the date found in it (2026-12-02)
    language: str | None  # declared by the page, else detected in its text (ISO 639-1)
    canonical: str | None


def extract(html: str | bytes, url: str, find_date: bool = True, metadata: bool = True) -> Extracted | None:
    """The main text and metadata of an article page, or None when the page has no main text.

    `find_date`: search the whole page for a publication date when its metadata has none (slow).
    `metadata`: read the page's title and author (trafilatura's metadata pass); False when the feed gave
    them, and the pass then runs only for a date the page does not declare.
    """
    import trafilatura

    tree = trafilatura.load_html(html)  # the page as trafilatura reads it, for what it does not read itself
    if tree is None:
        return None
    published = page_published(tree)
    find_date = find_date and published is None
    doc = _document(html, url, favor_precision=True, with_metadata=metadata or find_date,
                    date_extraction_params=_DATE_OPTIONS if find_date else _QUICK_DATE_OPTIONS)
    text = doc.text or ""
    if len(text) < PRECISE_ENOUGH:
        balanced = _document(html, url, favor_precision=False).text or ""
        if len(text) < GUARD_RATIO * len(balanced):
            text = balanced
    if not text:
        return None
    return Extracted(title=doc.title, text=text, author=doc.author, published=published or doc.date,
                     language=article_language(tree, text), canonical=page_canonical(tree, url))


def _document(html: str | bytes, url: str, **options: Any) -> "Document":
    """trafilatura's document for the page in veille's settings (an empty one when it finds no text)."""
    import trafilatura
    from trafilatura.settings import Document

    doc = trafilatura.bare_extraction(html, url=url, include_comments=False, include_tables=True, **options)
    return doc if isinstance(doc, Document) else Document()


def page_canonical(tree: HtmlElement, url: str) -> str:
    """The page's declared address (<link rel="canonical">, else og:url), joined to its URL; else its URL."""
    for declared in (*tree.xpath("//link[@rel='canonical']/@href"), *tree.xpath("//meta[@property='og:url']/@content")):
        if declared.strip():
            return urljoin(url, declared.strip())
    return url


async def extract_bounded(html: str, url: str, timeout: float, find_date: bool = True, metadata: bool = True, *,
                          source: str = "") -> Extracted | None:
    """extract() in the pool, in `source`'s turn, within `timeout` seconds; None (and a log line saying why)
    past it."""
    try:
        return await run_bounded(extract, (html, url, find_date, metadata), source=source, timeout=timeout)
    except TimeoutError:
        log.warning("article page %s: extraction took over %gs and was stopped (crawl.extract_timeout); "
                    "keeping the feed's text", url, timeout)
    except ProcessExpired as exc:
        log.warning("article page %s: the extraction worker died (%s); keeping the feed's text", url, exc)
    except Exception as exc:  # a page that breaks trafilatura (or a library it calls) is one article's problem
        log.warning("article page %s: extraction failed (%s: %s); keeping the feed's text",
                    url, type(exc).__name__, exc)
    return None
