"""psycopg's errors as storage's own (storage.errors), each one line, as storage.errors does for SQLite's.

    lock_timeout, serialization failure, deadlock,         ArchiveBusyError
    no connection free in the pool or on the server
    disk full                                              ArchiveFullError
    anything else (the server gone, out of memory...)      StorageError
"""

import contextlib
from collections.abc import Iterator

import psycopg
from psycopg import errors
from psycopg_pool import PoolTimeout

from storage.errors import ArchiveBusyError, ArchiveFullError, StorageError

_BUSY = (errors.LockNotAvailable, errors.SerializationFailure, errors.DeadlockDetected, errors.TooManyConnections,
         PoolTimeout)


def storage_error(exc: psycopg.Error) -> StorageError:
    """Storage's error for one of psycopg's, with the first line of the server's reason."""
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, _BUSY):
        return ArchiveBusyError(f"the archive is busy: another process holds what this needs past"
                                f" storage.timeout ({reason})")
    if isinstance(exc, errors.DiskFull):
        return ArchiveFullError(f"the archive cannot be written: its server's disk is full ({reason})")
    return StorageError(f"the archive cannot be read or written ({reason})")


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """psycopg's errors raised inside, as storage's own (the original chained)."""
    try:
        yield
    except psycopg.Error as exc:
        raise storage_error(exc) from exc
