"""The SQLite archive: schema, article writes, full-text search, outbox and source health.

Every other room reaches SQLite through this package, so that moving the archive elsewhere is a change
of one room. Functions take an open :class:`sqlite_utils.Database` from :func:`open_archive`.
"""

from storage.db import open_archive
from storage.errors import SearchSyntaxError, StorageError

__all__ = ["SearchSyntaxError", "StorageError", "open_archive"]
