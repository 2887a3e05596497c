"""The worker pool: CPU-bound work of the crawl (extraction, feed and sitemap parsing) off the event loop.

    await run_bounded(func, args, source="lemagit", timeout=20.0)

runs `func(*args)` in a worker process (one per core), abandoned past `timeout` (the worker killed and
replaced: a TimeoutError then), so that neither the reactor's GIL nor its memory is ever held by a page or a
feed, whatever it holds.

Fair between sources: work waits on the loop, not in the pool's own queue, and each source has at most a
share of the workers (half of them, at least one) running or waiting for one: a source listing a hundred
slow pages holds that share, and the next source's page goes to a worker after at most the pages already
waiting, one share per source, never after all of the slow source's.

The pool is started by `await start_pool()` at start-up (its forkserver and workers take seconds to start
on a loaded machine: off the loop), kept across crawls, and stopped by `shutdown_pool()`.
"""

import asyncio
import atexit
import multiprocessing
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pebble import ProcessPool

from crawler.lifeline import die_with_parent

T = TypeVar("T")

WORKERS = os.cpu_count() or 1
SHARE = max(1, WORKERS // 2)  # the workers one source may hold (running or next in line)
# a worker is replaced after this many tasks, so that whatever a library keeps between calls stays small
_TASKS_PER_WORKER = 500
# imported once by the forkserver, so that a new worker starts with them loaded
_PRELOAD = ["crawler.forkserver", "crawler.extract", "trafilatura", "crawler.feeds", "crawler.sitemaps"]

_pool: ProcessPool | None = None
_pool_lock = threading.Lock()


def pool() -> ProcessPool:
    """The pool, started on first use (a worker per core)."""
    global _pool
    with _pool_lock:
        if _pool is None or not _pool.active:
            # forkserver: workers never inherit the reactor's threads and sockets, and a replacement
            # worker starts quickly from a server that has already imported trafilatura
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            _pool = ProcessPool(max_workers=WORKERS, max_tasks=_TASKS_PER_WORKER, context=context,
                                initializer=die_with_parent)
        return _pool


def _ready() -> None:
    pool().schedule(os.getpid).result(timeout=120)


async def start_pool() -> None:
    """Start the pool and its forkserver in a thread, and wait until a worker answers."""
    await asyncio.to_thread(_ready)


def shutdown_pool() -> None:
    """Stop the pool's workers, if it was started (running work is abandoned)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.stop()
            _pool.join(timeout=10)
            _pool = None


atexit.register(shutdown_pool)


class _Gates:
    """This loop's gates: the pool's workers, and each source's share of them."""

    def __init__(self) -> None:
        self.workers = asyncio.Semaphore(WORKERS)
        self.shares: dict[str, asyncio.Semaphore] = {}

    def share(self, source: str) -> asyncio.Semaphore:
        return self.shares.setdefault(source, asyncio.Semaphore(SHARE))


_gates: dict[asyncio.AbstractEventLoop, _Gates] = {}


def _gates_of_loop() -> _Gates:
    loop = asyncio.get_running_loop()
    if loop not in _gates:
        _gates.clear()  # a new loop (another `veille crawl` in this process): the old gates are gone with it
        _gates[loop] = _Gates()
    return _gates[loop]


async def run_bounded(func: Callable[..., T], args: tuple[Any, ...], *, source: str, timeout: float) -> T:
    """func(*args) in a worker, within `timeout` seconds once it runs, in its turn among the sources.

    Raises what func raised, TimeoutError past the timeout, pebble's ProcessExpired if the worker died.
    """
    gates = _gates_of_loop()
    async with gates.share(source), gates.workers:
        return await asyncio.wrap_future(pool().schedule(func, args=args, timeout=timeout))
