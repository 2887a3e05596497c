"""Heartbeats: every `veille run` process says every BEAT_EVERY seconds that it is alive, and in which role.

    worker host:123 ─► beat(db, "host:123", "crawl", "host", 123)   every 10 s, while it runs
                    ─► forget(db, "host:123")                        on a clean stop
    veille status   ─► listing(db): each worker, "gone" past GONE_AFTER missed beats (killed, or cut off)
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

BEAT_EVERY = timedelta(seconds=10)
GONE_AFTER = 3  # missed beats


def beat(db: sqlite_utils.Database, worker: str, role: str, host: str, pid: int) -> None:
    """Record that `worker` (role, host, pid) is alive now; its first beat is when it started."""
    stamp = datetime.now(UTC).replace(microsecond=0).isoformat()
    db.execute("INSERT INTO workers (worker, role, host, pid, started, last_beat) VALUES (?, ?, ?, ?, ?, ?)"
               " ON CONFLICT (worker) DO UPDATE SET role = excluded.role, last_beat = excluded.last_beat",
               [worker, role, host, pid, stamp, stamp])


def listing(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every worker known, by role then name: role, host, pid, started, last_beat and whether it is gone."""
    cutoff = (datetime.now(UTC) - GONE_AFTER * BEAT_EVERY).replace(microsecond=0).isoformat()
    return [{**row, "gone": bool(row["gone"])} for row in db.query(
        "SELECT worker, role, host, pid, started, last_beat, last_beat < ? AS gone FROM workers"
        " ORDER BY role, worker", [cutoff])]


def forget(db: sqlite_utils.Database, worker: str) -> None:
    """Drop `worker` from the list: it stopped cleanly."""
    db.execute("DELETE FROM workers WHERE worker = ?", [worker])
