"""Errors raised by the storage room.

    StorageError              the archive cannot be opened or migrated
     └── SearchSyntaxError    a full-text query that FTS5 cannot parse
"""


class StorageError(Exception):
    """The archive cannot be opened, migrated or written."""


class SearchSyntaxError(StorageError):
    """A search query is not valid FTS5 syntax; the message says what is wrong."""
