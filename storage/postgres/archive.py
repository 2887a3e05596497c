"""The port's Archive on PostgreSQL: the other rooms' calls, each run by its PostgreSQL counterpart.

    archive = Archive.open(path, url="postgresql://veille@db.example/veille")   # one of these
    await archive.write(outbox.claim, ids)          # storage.postgres.outbox.claim(conn, ids), off the loop

For `fn` of a module storage.X, the archive runs the function of the same name in storage.postgres.X with
a connection of its pool: writes on one writer thread, one after another as on SQLite, each in one
transaction (committed when it returns, rolled back if it raises); reads on a few reader threads. Never on
the event loop. psycopg's errors come out as storage's (storage.postgres.errors). A storage function with
no counterpart here raises StorageError naming it, so that a gap is loud, never silent.
"""

import asyncio
import importlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlite_utils
from psycopg_pool import ConnectionPool

from storage.archive import READERS, Archive
from storage.config import masked
from storage.errors import StorageError
from storage.postgres.db import connect
from storage.postgres.errors import translated

P = ParamSpec("P")
T = TypeVar("T")


def counterpart(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The function of storage.postgres that does on PostgreSQL what `fn`, one of storage's, does on SQLite;
    StorageError naming `fn` when there is none."""
    module, name = getattr(fn, "__module__", "") or "", getattr(fn, "__qualname__", repr(fn))
    if module.startswith("storage.postgres."):
        return fn
    found = None
    if module.startswith("storage.") and "." not in name:
        try:
            found = getattr(importlib.import_module(f"storage.postgres.{module.removeprefix('storage.')}"), name,
                            None)
        except ModuleNotFoundError:
            found = None
    if not callable(found):
        raise StorageError(f"{module}.{name} has no PostgreSQL counterpart (storage.postgres): it cannot run"
                           " with storage.url set")
    return found


class PostgresArchive(Archive):
    """An archive on a PostgreSQL server: `write` and `read` run storage's functions' counterparts on its pool."""

    def __init__(self, url: str, pool: ConnectionPool, readers: int) -> None:
        self.url = masked(url)  # as it may be shown
        self._pool = pool
        self._writing = ThreadPoolExecutor(1, thread_name_prefix="archive-write")
        self._reading_pg = ThreadPoolExecutor(readers, thread_name_prefix="archive-read")
        self._closed = False

    @classmethod
    def connect(cls, url: str, *, timeout: float = 30.0, readers: int = READERS) -> "PostgresArchive":
        """Open the archive at `url`, migrated; StorageError (the password masked) when it cannot be."""
        return cls(url, connect(url, max_size=readers + 1, timeout=timeout), readers)

    async def write(self, fn: Callable[Concatenate[sqlite_utils.Database, P], T], /,
                    *args: P.args, **kwargs: P.kwargs) -> T:
        """fn's counterpart(conn, *args, **kwargs) on the writer thread, in one transaction."""
        return await asyncio.wrap_future(self._submit(self._writing, self._run_write, fn, args, kwargs))

    async def read(self, fn: Callable[Concatenate[sqlite_utils.Database, P], T], /,
                   *args: P.args, **kwargs: P.kwargs) -> T:
        """fn's counterpart(conn, *args, **kwargs) on a reader thread."""
        return await asyncio.wrap_future(self._submit(self._reading_pg, self._run_read, fn, args, kwargs))

    def write_now(self, fn: Callable[Concatenate[sqlite_utils.Database, P], T], /,
                  *args: P.args, **kwargs: P.kwargs) -> T:
        """`write`, waited for: for callers without an event loop (the CLI)."""
        return self._submit(self._writing, self._run_write, fn, args, kwargs).result()

    def read_now(self, fn: Callable[Concatenate[sqlite_utils.Database, P], T], /,
                 *args: P.args, **kwargs: P.kwargs) -> T:
        """`read`, waited for: for callers without an event loop (the CLI)."""
        return self._submit(self._reading_pg, self._run_read, fn, args, kwargs).result()

    def iterate_now(self, fn: Callable[Concatenate[sqlite_utils.Database, P], Iterator[T]], /,
                    *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        """What fn's counterpart yields, read in the caller's thread on a connection of the pool."""
        run = counterpart(fn)
        self._check_open()
        with translated(), self._pool.connection() as conn:
            yield from run(conn, *args, **kwargs)

    def _submit(self, executor: ThreadPoolExecutor, runner: Callable[..., T], fn: Callable[..., Any],
                args: tuple[Any, ...], kwargs: dict[str, Any]) -> "Future[T]":
        run = counterpart(fn)
        self._check_open()
        return executor.submit(runner, run, args, kwargs)

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"{self.url} is closed")

    def _run_write(self, run: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        with translated(), self._pool.connection() as conn, conn.transaction():
            return run(conn, *args, **kwargs)

    def _run_read(self, run: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        with translated(), self._pool.connection() as conn:
            return run(conn, *args, **kwargs)

    def close(self) -> None:
        """Wait for the reads and writes under way, then close the pool."""
        self._closed = True
        self._reading_pg.shutdown(wait=True)
        self._writing.shutdown(wait=True)
        self._pool.close()
