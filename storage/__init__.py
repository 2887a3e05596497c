"""The archive: schema, article writes, full-text search, outbox and source health.

Every other room reaches the archive through this package's :class:`Archive`, which runs this package's
functions off the event loop (`await archive.write(articles.store, row)`), and catches this package's errors;
none of them sees SQLite. The functions take the connection first; only `Archive` and storage's own tests
hand it to them.
"""

import sys

# sqlite_utils imports numpy when it is installed (0.1 s of every command's start), only to map numpy
# scalars to column types, and the archive stores none: numpy is hidden while sqlite_utils loads (an import
# of a module set to None raises ImportError, which sqlite_utils expects), then importable again.
if "sqlite_utils" not in sys.modules and "numpy" not in sys.modules:
    sys.modules["numpy"] = None  # type: ignore[assignment]
    try:
        import sqlite_utils  # noqa: F401
    finally:
        del sys.modules["numpy"]

from storage.archive import Archive
from storage.db import open_archive
from storage.errors import ArchiveBusyError, ArchiveFullError, ArchiveUnreadableError, SearchSyntaxError, StorageError

__all__ = ["Archive", "ArchiveBusyError", "ArchiveFullError", "ArchiveUnreadableError", "SearchSyntaxError",
           "StorageError", "open_archive"]
