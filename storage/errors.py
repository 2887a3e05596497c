"""Errors raised by the storage room, and what SQLite's own errors mean to an admin.

    StorageError              the archive cannot be opened or migrated
     └── SearchSyntaxError    a full-text query that FTS5 cannot parse
"""

import sqlite3


class StorageError(Exception):
    """The archive cannot be opened, migrated or written."""


class SearchSyntaxError(StorageError):
    """A search query is not valid FTS5 syntax; the message says what is wrong."""


def describe(exc: sqlite3.Error) -> str:
    """A one-line reason for a failed archive write, saying what to do about it."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return f"the archive is locked by another process past storage.timeout ({exc})"
    if code in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR):
        return f"the archive cannot be written: disk full or failing ({exc})"
    return f"the archive cannot be written ({exc})"
