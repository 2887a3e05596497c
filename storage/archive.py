"""The archive as the other rooms hold it: storage's functions, run off the event loop the Datasette way.

    archive = Archive.open(path, timeout=30)
    stored = await archive.write(articles.store, row)          # on the one writer thread, in order
    held = await archive.read(articles.known, source, urls)    # on a reader of a small pool
    hits = archive.read_now(search, "cloud souverain")         # the same, waited for (the CLI has no loop)

One thread owns the write connection and runs the writes one after another, in order; the writes queued while
one runs are committed together when it is done (group commit: one transaction, one commit and one new piece
of the full-text index for up to GROUP writes, where each made its own), and none is reported done before its
commit. Reads run on a few read-only connections, which WAL lets read while a write is under way. A write waiting on
another process's lock (up to `storage.timeout`) thus holds up the writes queued behind it, never the event
loop: the bot answers and fetches proceed meanwhile. SQLite's own errors come out as storage's (storage.errors).

With `storage.url` set, `Archive.open(path, url=...)` gives the same port on PostgreSQL instead
(storage.postgres.archive): the same calls, each run by its PostgreSQL counterpart.

Only storage's functions are run here: they take the connection first (`fn(db, *args)`), and the other rooms
never see it. An in-memory archive (tests) has no second connection: its reads run on the writer.
"""

import asyncio
import functools
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlite_utils

from storage.db import connect, open_archive
from storage.errors import StorageError, translated

P = ParamSpec("P")
T = TypeVar("T")
READERS = 3  # reads at once: the bot's, a crawl's lookups, a status page; more only wait on two cores
GROUP = 32  # writes committed together at most


class _Writer:
    """The writer thread: tasks in order; writes queued together run in one transaction, committed once.

    A group is all or nothing: if one of its writes raises (or the commit does), the group is rolled back and
    its writes run again one by one, each in its own transaction, so that each gets the result or the error
    it would have had alone. A write cancelled before it runs is not run.
    """

    def __init__(self) -> None:
        self._tasks: queue.SimpleQueue[tuple[Callable[..., Any], Future[Any], bool] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="archive-write", daemon=True)
        self._thread.start()
        self.db: sqlite_utils.Database | None = None

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> "Future[T]":
        """fn(*args, **kwargs) on the writer thread, alone."""
        future: Future[T] = Future()
        self._tasks.put((lambda: fn(*args, **kwargs), future, False))
        return future

    def submit_write(self, call: Callable[[sqlite_utils.Database], T]) -> "Future[T]":
        """call(db) in a write transaction, with the writes queued beside it."""
        future: Future[T] = Future()
        self._tasks.put((call, future, True))
        return future

    def shutdown(self) -> None:
        """Run what is queued, then stop the thread."""
        self._tasks.put(None)
        self._thread.join()

    def _run(self) -> None:
        carried = None
        while True:
            task = carried if carried is not None else self._tasks.get()
            carried = None
            if task is None:
                return
            fn, future, is_write = task
            if not is_write:
                _settle(future, fn)
                continue
            group = [(fn, future)]
            while len(group) < GROUP:
                try:
                    carried = self._tasks.get_nowait()
                except queue.Empty:
                    break
                if carried is None or not carried[2]:
                    break
                group.append((carried[0], carried[1]))
                carried = None
            self._write(group)

    def _write(self, group: list[tuple[Callable[[sqlite_utils.Database], Any], Future[Any]]]) -> None:
        group = [(call, future) for call, future in group if future.set_running_or_notify_cancel()]
        if len(group) > 1 and self._together(group):
            return
        for call, future in group:
            _settle(future, functools.partial(_written, self.db, call))

    def _together(self, group: list[tuple[Callable[[sqlite_utils.Database], Any], Future[Any]]]) -> bool:
        """Run the group in one transaction; whether it was committed (its futures then settled)."""
        db = self.db
        assert db is not None
        try:
            db.execute("BEGIN IMMEDIATE")
            results = [call(db) for call, _ in group]
            db.conn.commit()
        except BaseException:
            if db.conn.in_transaction:
                db.conn.rollback()
            return False
        for (_, future), result in zip(group, results, strict=True):
            future.set_result(result)
        return True


def _settle(future: "Future[T]", fn: Callable[[], T]) -> None:
    """Run fn for this future (a write's future is already marked running), and give it the outcome."""
    if not future.running() and not future.set_running_or_notify_cancel():
        return
    try:
        result = fn()
    except BaseException as exc:
        future.set_exception(exc)
    else:
        future.set_result(result)


def _written(db: sqlite_utils.Database | None, call: Callable[[sqlite_utils.Database], T]) -> T:
    """call(db) alone, committed when it returns, rolled back if it raises; SQLite's errors as storage's."""
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


class Archive:
    """An open archive: `write` and `read` run one of storage's functions on its connections, off the loop."""

    def __init__(self, path: Path, db: sqlite_utils.Database | None, writer: _Writer | None,
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
        writer = _Writer()
        try:
            db = writer.db = writer.submit(open_archive, path, timeout=timeout).result()
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
        return self._writer.submit_write(call)

    def _submit_read(self, call: Callable[[sqlite_utils.Database], T]) -> "Future[T]":
        if self._closed:
            raise StorageError(f"{self.path} is closed")
        if self._reading is None:  # in memory: the writer's connection is the only one
            return self._submit_write(call)
        return self._reading.submit(self._read, call)

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
            self._writer.shutdown()
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
