"""Leadership on PostgreSQL (storage.leader): a session advisory lock on a connection of its own, kept open
while this process leads; the server frees the lock when that connection closes (a kill -9 closes it)."""

import zlib

import psycopg

from storage.postgres.db import OPTIONS
from storage.postgres.errors import translated

LOCKS = 0x7665  # 've': the first key of our advisory locks of two keys, the second is the name's


class AdvisoryLeadership:
    """One candidate: leads while it holds `pg_try_advisory_lock` on its own connection."""

    def __init__(self, url: str, name: str, *, timeout: float = 5.0) -> None:
        self.url = url
        self.key = zlib.crc32(name.encode()) & 0x7FFFFFFF
        self.timeout = timeout
        self._conn: psycopg.Connection | None = None

    def try_lead(self) -> bool:
        if self._conn is not None:
            try:
                self._conn.execute("SELECT 1")  # still connected, so still holding the lock
                return True
            except psycopg.Error:
                self.resign()
        with translated():
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=max(int(self.timeout), 2),
                                   options=OPTIONS)
            try:
                row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCKS, self.key]).fetchone()
            except BaseException:
                conn.close()
                raise
        if row and row[0]:
            self._conn = conn
            return True
        conn.close()
        return False

    def resign(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()  # the session ends: the server frees its advisory locks
            finally:
                self._conn = None
