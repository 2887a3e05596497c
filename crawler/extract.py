"""Main-text extraction: an article page's own words and metadata, without menus, sidebars and footers.

    extract(html, url)                      the work itself (trafilatura), in the calling process
    await extract_bounded(html, url, 20.0)  the same in a worker process of the extraction pool, abandoned
                                            (worker killed and replaced) past the time limit: None then

The pool (one worker per core) takes extraction off the reactor's process, where it would hold the GIL:
fetching, dedup, storage and matching go on while pages are extracted on the other cores. It is started
on first use, kept across crawls (`veille run` reuses it round after round) and stopped by
`shutdown_pool()`, which the service calls on exit (and an atexit hook otherwise).
"""

import asyncio
import atexit
import logging
import multiprocessing
import os
import threading
from concurrent.futures import TimeoutError
from dataclasses import dataclass

import trafilatura
from pebble import ProcessPool
from pebble.common import ProcessExpired

from crawler.lifeline import die_with_parent

log = logging.getLogger("veille.crawl")

# extensive_search reads every date-like string of the page (scripts included): about three quarters of
# extraction time on a 100 KB page, so only done when the feed gave no date of its own
_DATE_OPTIONS = {"extensive_search": True, "original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}
_QUICK_DATE_OPTIONS = {**_DATE_OPTIONS, "extensive_search": False}
# a worker is replaced after this many pages, so that whatever a library keeps between calls stays small
_TASKS_PER_WORKER = 500


@dataclass(frozen=True)
class Extracted:
    """What trafilatura found in a page."""

    title: str | None
    text: str
    author: str | None
    published: str | None
    language: str | None
    canonical: str | None


def extract(html: str | bytes, url: str, find_date: bool = True) -> Extracted | None:
    """The main text and metadata of an article page, or None when the page has no main text.

    `find_date`: search the whole page for a publication date when its metadata has none (slow).
    """
    doc = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, include_tables=True,
        favor_precision=True, date_extraction_params=_DATE_OPTIONS if find_date else _QUICK_DATE_OPTIONS)
    if doc is None or isinstance(doc, dict) or not doc.text:
        return None
    return Extracted(title=doc.title, text=doc.text, author=doc.author, published=doc.date,
                     language=doc.language, canonical=doc.url)


_pool: ProcessPool | None = None
_pool_lock = threading.Lock()


def pool() -> ProcessPool:
    """The extraction pool, started on first use (a worker per core)."""
    global _pool
    with _pool_lock:
        if _pool is None or not _pool.active:
            # forkserver: workers never inherit the reactor's threads and sockets, and a replacement
            # worker starts quickly from a server that has already imported trafilatura
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["crawler.forkserver", "crawler.extract"])
            _pool = ProcessPool(max_workers=os.cpu_count() or 1, max_tasks=_TASKS_PER_WORKER, context=context,
                                initializer=die_with_parent)
        return _pool


def shutdown_pool() -> None:
    """Stop the extraction pool's workers, if it was started (running extractions are abandoned)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.stop()
            _pool.join(timeout=10)
            _pool = None


atexit.register(shutdown_pool)


async def extract_bounded(html: str, url: str, timeout: float, find_date: bool = True) -> Extracted | None:
    """extract() in the pool, within `timeout` seconds; None (and a log line saying why) past it."""
    future = pool().schedule(extract, args=(html, url, find_date), timeout=timeout)
    try:
        return await asyncio.wrap_future(future)
    except TimeoutError:
        log.warning("article page %s: extraction took over %gs and was stopped (crawl.extract_timeout); "
                    "keeping the feed's text", url, timeout)
    except ProcessExpired as exc:
        log.warning("article page %s: the extraction worker died (%s); keeping the feed's text", url, exc)
    except Exception as exc:  # a page that breaks trafilatura (or a library it calls) is one article's problem
        log.warning("article page %s: extraction failed (%s: %s); keeping the feed's text",
                    url, type(exc).__name__, exc)
    return None
