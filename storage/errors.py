"""Storage's own errors: what the other rooms catch, never SQLite's. Each message says what to do.

    StorageError              the archive cannot be opened, read or written
     ├── ArchiveBusyError          another process holds its lock past storage.timeout
     ├── ArchiveFullError          the disk is full or failing
     ├── ArchiveUnreadableError    the file is not an archive, or is damaged
     └── SearchSyntaxError    a search query that cannot be read

On PostgreSQL (storage.url), psycopg's errors come out as the same ones (storage.postgres.errors).
"""

import contextlib
import sqlite3
from collections.abc import Iterator


class StorageError(Exception):
    """The archive cannot be opened, migrated, read or written."""


class ArchiveBusyError(StorageError):
    """Another process held the archive's lock for longer than storage.timeout."""


class ArchiveFullError(StorageError):
    """The archive's disk is full or failing."""


class ArchiveUnreadableError(StorageError):
    """The archive's file is not a SQLite database, or is damaged."""


class SearchSyntaxError(StorageError):
    """A search query cannot be read; the message says what is wrong."""


def describe(exc: sqlite3.Error) -> str:
    """A one-line reason for a failed archive read or write, saying what to do about it."""
    return str(_storage_error(exc))


def _storage_error(exc: sqlite3.Error) -> StorageError:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return ArchiveBusyError(f"the archive is locked by another process past storage.timeout ({exc})")
    if code in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR):
        return ArchiveFullError(f"the archive cannot be written: disk full or failing ({exc})")
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return ArchiveUnreadableError(f"the archive is damaged or not an archive ({exc}): restore it from a backup")
    return StorageError(f"the archive cannot be written ({exc})")


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """SQLite's errors raised inside, as storage's own (the original chained)."""
    try:
        yield
    except sqlite3.Error as exc:
        raise _storage_error(exc) from exc
