"""Heartbeats on PostgreSQL, as storage.workers keeps them on SQLite, on the server's clock (so that the
clocks of the workers' machines do not matter)."""

from typing import Any

import psycopg

from storage.postgres.db import rows
from storage.workers import BEAT_EVERY, GONE_AFTER


def beat(conn: psycopg.Connection, worker: str, role: str, host: str, pid: int) -> None:
    """Record that `worker` (role, host, pid) is alive now; its first beat is when it started."""
    conn.execute("INSERT INTO workers (worker, role, host, pid, started, last_beat) VALUES"
                 " (%s, %s, %s, %s, date_trunc('second', now()), date_trunc('second', now()))"
                 " ON CONFLICT (worker) DO UPDATE SET role = excluded.role, last_beat = excluded.last_beat",
                 [worker, role, host, pid])


def listing(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every worker known, by role then name: role, host, pid, started, last_beat and whether it is gone."""
    return rows(conn, "SELECT worker, role, host, pid, started, last_beat, last_beat < now() - %s AS gone"
                      " FROM workers ORDER BY role, worker", [GONE_AFTER * BEAT_EVERY])


def forget(conn: psycopg.Connection, worker: str) -> None:
    """Drop `worker` from the list: it stopped cleanly."""
    conn.execute("DELETE FROM workers WHERE worker = %s", [worker])
