"""The SQLite archive: schema, article writes, full-text search, outbox and source health.

Every other room reaches SQLite through this package, so that moving the archive elsewhere is a change
of one room. Functions take an open :class:`sqlite_utils.Database` from :func:`open_archive`.
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

from storage.db import open_archive
from storage.errors import SearchSyntaxError, StorageError

__all__ = ["SearchSyntaxError", "StorageError", "open_archive"]
