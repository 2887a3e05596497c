"""The archive as the other rooms hold it: storage's functions, run off the event loop the Datasette way.

    archive = Archive.open(path, timeout=30)
    stored = await archive.write(articles.store, row)          # on the one writer thread, in order
    held = await archive.read(articles.known, source, urls)    # on a reader of a small pool
    hits = archive.read_now(search, "cloud souverain")         # the same, waited for (the CLI has no loop)

One thread owns the write connection and runs the writes one after another, each committed when it returns;
reads run on a few read-only connections, which WAL lets read while a write is under way. A write waiting on
another process's lock (up to `storage.timeout`) thus holds up the writes queued behind it, never the event
loop: the bot answers and fetches proceed meanwhile. SQLite's own errors come out as storage's (storage.errors).

With `storage.url` set, `Archive.open(path, url=...)` gives the same port on PostgreSQL instead
(storage.postgres.archive): the same calls, each run by its PostgreSQL counterpart.

Only storage's functions are run here: they take the connection first (`fn(db, *args)`), and the other rooms
never see it. An in-memory archive (tests) has no second connection: its reads run on the writer.
"""

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import sqlite_utils

from storage.db import connect, open_archive
from storage.errors import StorageError, translated

P = ParamSpec("P")
T = TypeVar("T")
READERS = 3  # reads at once: the bot's, a crawl's lookups, a status page; more only wait on two cores


class Archive:
    """An open archive: `write` and `read` run one of storage's functions on its connections, off the loop."""

    def __init__(self, path: Path, db: sqlite_utils.Database | None, writer: ThreadPoolExecutor | None,
                 timeout: float, readers: int) -> None:
        self.path = path
        self._db = db  # the writer's connection, used on the writer thread only
        self._writer = writer
        self._timeout = timeout
        self._local = threading.local()
        self._readers: list[sqlite_utils.Database] = []
        self._reading = ThreadPoolExecutor(readers, thread_name_prefix="archive-read") if self._shared else None
        self._closed = False

    @classmethod
    def open(cls, path: str | Path, *, timeout: float = 30.0, readonly: bool = False,
             readers: int = READERS, url: str | None = None) -> "Archive":
        """Open the archive at `path` (created and migrated unless `readonly`), or on the PostgreSQL server
        at `url` when one is given (storage.url); StorageError when it cannot be.

        A statement finding the archive locked by another process waits up to `timeout` seconds.
        """
        if url:
            return _postgres(url, timeout=timeout, readers=readers)
        path = Path(path)
        if readonly:
            if not path.exists():
                raise StorageError(f"no archive at {path}: run `veille crawl` first")
            return cls(path, None, None, timeout, readers)
        writer = ThreadPoolExecutor(1, thread_name_prefix="archive-write")
        try:
            db = writer.submit(open_archive, path, timeout=timeout).result()
        except BaseException:
            writer.shutdown()
            raise
        return cls(path, db, writer, timeout, readers)

    @property
    def _shared(self) -> bool:
        """Whether other connections can open the same archive (not an in-memory one)."""
        return str(self.path) != ":memory:"

    async def write(self, fn: Callable[Concatenate[sqlite_utils.Database, P], T], /,
                    *args: P.args, **kwargs: P.kwargs) -> T:
        """fn(db, *args, **kwargs) on the writer thread, committed when it returns, rolled back if it raises."""
        return await asyncio.wrap_future(self._submit_write(lambda db: fn(db, *args, **kwargs)))

    async def read(self, fn: Callable[Concatenate[sqlite_utils.Database, P], T], /,
                   *args: P.args, **kwargs: P.kwargs) -> T:
        """fn(db, *args, **kwargs) on a read-only connection of the pool."""
        return await asyncio.wrap_future(self._submit_read(lambda db: fn(db, *args, **kwargs)))

    def write_now(self, fn: Callable[Concatenate[sqlite_utils.Database, P], T], /,
                  *args: P.args, **kwargs: P.kwargs) -> T:
        """`write`, waited for: for callers without an event loop (the CLI)."""
        return self._submit_write(lambda db: fn(db, *args, **kwargs)).result()

    def read_now(self, fn: Callable[Concatenate[sqlite_utils.Database, P], T], /,
                 *args: P.args, **kwargs: P.kwargs) -> T:
        """`read`, waited for: for callers without an event loop (the CLI)."""
        return self._submit_read(lambda db: fn(db, *args, **kwargs)).result()

    def iterate_now(self, fn: Callable[Concatenate[sqlite_utils.Database, P], Iterator[T]], /,
                    *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        """What fn(db, *args) yields, read on a connection of the caller's own (an export streams rows
        without holding a reader of the pool)."""
        if not self._shared:
            yield from self.read_now(lambda db: list(fn(db, *args, **kwargs)))
            return
        with translated():
            db = connect(self.path, readonly=True, timeout=self._timeout)
            try:
                yield from fn(db, *args, **kwargs)
            finally:
                db.close()

    def _submit_write(self, call: Callable[[sqlite_utils.Database], T]) -> "Future[T]":
        if self._closed:
            raise StorageError(f"{self.path} is closed")
        if self._writer is None or self._db is None:
            raise StorageError(f"{self.path} is open read-only: nothing can be written to it")
        return self._writer.submit(self._written, call)

    def _submit_read(self, call: Callable[[sqlite_utils.Database], T]) -> "Future[T]":
        if self._closed:
            raise StorageError(f"{self.path} is closed")
        if self._reading is None:  # in memory: the writer's connection is the only one
            return self._submit_write(call)
        return self._reading.submit(self._read, call)

    def _written(self, call: Callable[[sqlite_utils.Database], T]) -> T:
        db = self._db
        assert db is not None
        try:
            with translated():
                result = call(db)
                if db.conn.in_transaction:
                    db.conn.commit()
        except BaseException:
            if db.conn.in_transaction:
                db.conn.rollback()
            raise
        return result

    def _read(self, call: Callable[[sqlite_utils.Database], T]) -> T:
        db = getattr(self._local, "db", None)
        with translated():
            if db is None:
                db = self._local.db = connect(self.path, readonly=True, timeout=self._timeout)
                self._readers.append(db)
            return call(db)

    def close(self) -> None:
        """Wait for the reads and writes under way, then close every connection."""
        self._closed = True
        if self._reading is not None:
            self._reading.shutdown(wait=True)
            for db in self._readers:
                db.close()
        if self._writer is not None and self._db is not None:
            db = self._db
            self._writer.submit(db.close).result()
            self._writer.shutdown(wait=True)
        self._db = None
        self._writer = None
        self._reading = None

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _postgres(url: str, *, timeout: float, readers: int) -> Archive:
    """The archive on PostgreSQL (storage.postgres.archive), psycopg imported only when it is asked for."""
    try:
        from storage.postgres.archive import PostgresArchive
    except ImportError as exc:
        raise StorageError(f"storage.url needs psycopg, which is not installed ({exc}):"
                           " pip install 'veille[postgres]'") from None
    return PostgresArchive.connect(url, timeout=timeout, readers=readers)
